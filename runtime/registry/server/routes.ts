// The HTTP surface of the OCI distribution spec v1.1 (which is also what
// Docker's Registry HTTP API v2 clients speak), mapped onto Storage.
//
//   GET    /v2/                                   API version check
//   GET    /v2/_catalog?n=&last=                  repositories
//   GET    /v2/<name>/tags/list?n=&last=          tags
//   GET|HEAD|PUT|DELETE /v2/<name>/manifests/<tag|digest>
//   GET|HEAD /v2/<name>/blobs/<digest>           (Range supported; DELETE is 405: blobs are shared)
//   POST   /v2/<name>/blobs/uploads/[?digest=|?mount=&from=]
//   GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<uuid>
//   GET    /v2/<name>/referrers/<digest>?artifactType=
//
// <name> may itself contain slashes (library/busybox, a/b/c), so routes are
// recognised from the end of the path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError } from './errors.js';
import { isValidName, parseDigest, rangeHeader, TAG_RE, type Digest, type ManifestMeta, type Storage } from './storage.js';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  storage: Storage;
  /** Response body bytes sent, for the access log. */
  bytes: number;
}

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;
const IMAGE_MANIFESTS = new Set<string>([MEDIA.dockerManifest, MEDIA.ociManifest]);
const INDEXES = new Set<string>([MEDIA.dockerList, MEDIA.ociIndex]);

/**
 * Manifests are read into memory (they are hashed and parsed whole), so their
 * size is capped. 4 MiB is the limit the OCI spec suggests registries accept at least.
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

// ---- responses ----

function send(ctx: Ctx, status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
  const { res } = ctx;
  const buf = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (!res.hasHeader('Content-Length')) res.setHeader('Content-Length', buf?.length ?? 0);
  if (ctx.req.method !== 'HEAD' && buf) ctx.bytes += buf.length;
  res.end(ctx.req.method === 'HEAD' ? undefined : buf);
}

function sendJSON(ctx: Ctx, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(ctx, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(value));
}

const isAbort = (e: unknown) => ['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes((e as NodeJS.ErrnoException)?.code ?? '')
  || (e as Error)?.message === 'aborted';

/** Answers with the spec's JSON error body; `log` hears about anything that is our fault. */
export function sendError(ctx: Ctx, e: unknown, log: (line: string) => void): void {
  if (ctx.res.headersSent || (ctx.req.destroyed && isAbort(e))) {
    // Mid-stream failure or a client that went away: there is no way left to report it.
    ctx.res.destroy();
    return;
  }
  let err: RegistryError;
  if (e instanceof RegistryError) err = e;
  else {
    log(`internal error: ${(e as Error)?.stack ?? String(e)}`);
    err = new RegistryError('UNKNOWN', 'internal server error');
  }
  send(ctx, err.status, { 'Content-Type': 'application/json', ...err.headers }, err.body());
}

// ---- request parsing ----

function digestOr(s: string | null, what: string): Digest {
  const d = s === null ? undefined : parseDigest(s);
  if (!d) throw new RegistryError('DIGEST_INVALID', s === null ? `${what}: digest parameter missing` : `${what}: invalid digest ${JSON.stringify(s)}`);
  return d;
}

/** An upload chunk's Content-Range, `<start>-<end>` inclusive (some clients prefix `bytes `). */
function contentRange(req: IncomingMessage): { start: number; end: number } | undefined {
  const h = req.headers['content-range'];
  if (h === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(h.trim());
  if (!m || Number(m[2]) < Number(m[1])) throw new RegistryError('BLOB_UPLOAD_INVALID', `invalid Content-Range ${JSON.stringify(h)}`, undefined, 416);
  return { start: Number(m[1]), end: Number(m[2]) };
}

/**
 * A blob GET's Range header. Only a single `bytes=` range is honoured; a
 * multi-range request gets the whole blob (RFC 9110 allows ignoring Range).
 */
function byteRange(h: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!h) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number, end: number;
  if (m[1] === '') { // suffix: the last N bytes
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/** Reads a manifest body; over the cap it is drained (so the client sees our answer, not a reset) and refused. */
async function readManifestBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total <= MAX_MANIFEST_BYTES) chunks.push(chunk);
  }
  if (total > MAX_MANIFEST_BYTES) {
    throw new RegistryError('MANIFEST_INVALID', `manifest exceeds the ${MAX_MANIFEST_BYTES}-byte limit`, { size: total, limit: MAX_MANIFEST_BYTES }, 413);
  }
  return Buffer.concat(chunks);
}

/** `?n=&last=` pagination over a sorted list, with the Link header that names the next page. */
function paginate(ctx: Ctx, all: string[], path: string): { page: string[]; headers: Record<string, string> } {
  const q = ctx.url.searchParams;
  const nRaw = q.get('n');
  if (nRaw !== null && !/^\d+$/.test(nRaw)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `invalid number of results requested: ${JSON.stringify(nRaw)}`);
  const n = nRaw === null ? undefined : Number(nRaw);
  const last = q.get('last');
  // `last` need not be an existing entry: the page starts after it in lexical order.
  const rest = last ? all.filter((x) => x > last) : all;
  const page = n === undefined ? rest : rest.slice(0, n);
  const headers: Record<string, string> = {};
  if (n !== undefined && n > 0 && rest.length > n) {
    headers.Link = `<${path}?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
  }
  return { page, headers };
}

function methodNotAllowed(ctx: Ctx, allow: string[]): never {
  throw new RegistryError('UNSUPPORTED', `${ctx.req.method} is not supported here`, undefined, 405).withHeaders({ Allow: allow.join(', ') });
}

// ---- the router ----

export async function route(ctx: Ctx): Promise<void> {
  let path: string;
  try {
    path = decodeURIComponent(ctx.url.pathname);
  } catch {
    throw new RegistryError('NAME_INVALID', 'malformed percent-encoding in path');
  }
  const method = ctx.req.method ?? 'GET';

  if (path === '/v2' || path === '/v2/') {
    if (method !== 'GET' && method !== 'HEAD') methodNotAllowed(ctx, ['GET', 'HEAD']);
    return sendJSON(ctx, 200, {});
  }
  if (path === '/v2/_catalog') {
    if (method !== 'GET') methodNotAllowed(ctx, ['GET']);
    const { page, headers } = paginate(ctx, await ctx.storage.repositories(), '/v2/_catalog');
    return sendJSON(ctx, 200, { repositories: page }, headers);
  }

  let m: RegExpExecArray | null;
  const named = (re: RegExp) => {
    m = re.exec(path);
    if (m && !isValidName(m[1])) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: m[1] });
    return m !== null;
  };
  if (named(/^\/v2\/(.+)\/tags\/list$/)) return tagsList(ctx, m![1]);
  if (named(/^\/v2\/(.+)\/manifests\/([^/]+)$/)) return manifests(ctx, m![1], m![2]);
  if (named(/^\/v2\/(.+)\/blobs\/uploads(?:\/([^/]*))?$/)) return uploads(ctx, m![1], m![2] ?? '');
  if (named(/^\/v2\/(.+)\/blobs\/([^/]+)$/)) return blobs(ctx, m![1], m![2]);
  if (named(/^\/v2\/(.+)\/referrers\/([^/]+)$/)) return referrers(ctx, m![1], m![2]);
  throw new RegistryError('UNSUPPORTED', `no such endpoint: ${ctx.url.pathname}`, undefined, 404);
}

// ---- tags ----

async function tagsList(ctx: Ctx, name: string): Promise<void> {
  if (ctx.req.method !== 'GET') methodNotAllowed(ctx, ['GET']);
  if (!(await ctx.storage.repoExists(name))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
  const { page, headers } = paginate(ctx, await ctx.storage.tags(name), `/v2/${name}/tags/list`);
  sendJSON(ctx, 200, { name, tags: page }, headers);
}

// ---- blobs ----

async function blobs(ctx: Ctx, name: string, ref: string): Promise<void> {
  const method = ctx.req.method;
  if (method === 'DELETE') {
    // Blobs are one global content-addressed store shared by every
    // repository; deleting one could break another repository's manifests.
    throw new RegistryError('UNSUPPORTED', 'blob deletion is disabled: blobs are shared by all repositories (delete manifests instead)', undefined, 405)
      .withHeaders({ Allow: 'GET, HEAD' });
  }
  if (method !== 'GET' && method !== 'HEAD') methodNotAllowed(ctx, ['GET', 'HEAD']);
  const d = digestOr(ref, 'blob');
  const size = await ctx.storage.blobSize(d);
  if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { name, digest: d.text });

  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': d.text,
    ETag: `"${d.text}"`,
    'Accept-Ranges': 'bytes',
    // Content-addressed: the bytes behind a digest never change.
    'Cache-Control': 'max-age=31536000',
  };
  const range = byteRange(ctx.req.headers.range, size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('BLOB_UNKNOWN', 'requested range not satisfiable', { size }, 416).withHeaders({ 'Content-Range': `bytes */${size}` });
  }
  const { res } = ctx;
  res.statusCode = range ? 206 : 200;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  res.setHeader('Content-Length', range ? range.end - range.start + 1 : size);
  if (ctx.req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      ctx.bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(ctx.storage.openBlob(d, range?.start, range?.end), count, res);
}

// ---- uploads ----

const uploadLocation = (name: string, uuid: string) => `/v2/${name}/blobs/uploads/${uuid}`;

function uploadStatus(ctx: Ctx, status: number, name: string, uuid: string, size: number): void {
  send(ctx, status, { Location: uploadLocation(name, uuid), Range: rangeHeader(size), 'Docker-Upload-UUID': uuid });
}

function blobCreated(ctx: Ctx, name: string, d: Digest): void {
  send(ctx, 201, { Location: `/v2/${name}/blobs/${d.text}`, 'Docker-Content-Digest': d.text });
}

async function uploads(ctx: Ctx, name: string, uuid: string): Promise<void> {
  const { req, storage } = ctx;
  const q = ctx.url.searchParams;
  if (uuid === '') {
    if (req.method !== 'POST') methodNotAllowed(ctx, ['POST']);
    const mount = q.get('mount');
    if (mount !== null) {
      // Blobs are global, so "mounting" from another repository (`from`) is
      // only an existence check. When the blob is missing the spec says to
      // fall back to an ordinary upload session (202), not to fail.
      const d = digestOr(mount, 'mount');
      if ((await storage.blobSize(d)) !== undefined) return blobCreated(ctx, name, d);
    } else if (q.get('digest') !== null) {
      // Monolithic upload: the whole blob is this POST's body.
      const d = digestOr(q.get('digest'), 'upload');
      const id = await storage.createUpload(name);
      await storage.finishUpload(name, id, d, req);
      return blobCreated(ctx, name, d);
    }
    const id = await storage.createUpload(name);
    return uploadStatus(ctx, 202, name, id, 0);
  }

  switch (req.method) {
    case 'GET':
      return uploadStatus(ctx, 204, name, uuid, await storage.uploadSize(name, uuid));
    case 'PATCH': {
      const size = await storage.appendUpload(name, uuid, req, contentRange(req));
      return uploadStatus(ctx, 202, name, uuid, size);
    }
    case 'PUT': {
      const d = digestOr(q.get('digest'), 'upload');
      await storage.finishUpload(name, uuid, d, req, contentRange(req));
      return blobCreated(ctx, name, d);
    }
    case 'DELETE':
      await storage.cancelUpload(name, uuid);
      return send(ctx, 204, {});
    default:
      methodNotAllowed(ctx, ['GET', 'PATCH', 'PUT', 'DELETE']);
  }
}

// ---- manifests ----

/** Checks a reference's shape; a malformed digest is DIGEST_INVALID, a malformed tag `badTag`. */
function reference(ref: string, badTag: RegistryError): { digest?: Digest; tag?: string } {
  if (ref.includes(':')) return { digest: digestOr(ref, 'manifest reference') };
  if (!TAG_RE.test(ref)) throw badTag;
  return { tag: ref };
}

async function manifests(ctx: Ctx, name: string, ref: string): Promise<void> {
  const method = ctx.req.method;
  if (method === 'PUT') return putManifest(ctx, name, ref);
  const unknown = new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { name, reference: ref });
  if (method === 'DELETE') {
    reference(ref, unknown);
    if (!(await ctx.storage.deleteManifest(name, ref))) throw unknown;
    return send(ctx, 202, {});
  }
  if (method !== 'GET' && method !== 'HEAD') methodNotAllowed(ctx, ['GET', 'HEAD', 'PUT', 'DELETE']);
  reference(ref, unknown);
  const found = await ctx.storage.getManifest(name, ref);
  if (!found) throw unknown;
  // The exact bytes that were pushed, under the media type they were pushed
  // with: the digest is of these bytes, so any re-serialisation would break it.
  send(ctx, 200, {
    'Content-Type': found.meta.mediaType,
    'Docker-Content-Digest': found.meta.digest,
    ETag: `"${found.meta.digest}"`,
  }, found.bytes);
}

interface Descriptor { mediaType: string; digest: string; size: number; urls?: string[] }

function descriptor(v: unknown, where: string): Descriptor & { parsed: Digest } {
  const bad = (why: string) => new RegistryError('MANIFEST_INVALID', `manifest invalid: ${where}: ${why}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a descriptor object');
  const o = v as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || !o.mediaType) throw bad('mediaType missing');
  const parsed = typeof o.digest === 'string' ? parseDigest(o.digest) : undefined;
  if (!parsed) throw bad('digest missing or invalid');
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw bad('size missing or invalid');
  return { ...(o as unknown as Descriptor), parsed };
}

/** Which manifest type this is: Content-Type first, then the body's own mediaType, then its shape. */
function manifestType(contentType: string | undefined, body: Record<string, unknown>): string {
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  const known = (t: string | undefined) => t !== undefined && (IMAGE_MANIFESTS.has(t) || INDEXES.has(t));
  if (known(contentType)) {
    if (declared !== undefined && declared !== contentType) {
      throw new RegistryError('MANIFEST_INVALID', `manifest invalid: mediaType ${declared} does not match Content-Type ${contentType}`);
    }
    return contentType!;
  }
  if (known(declared)) return declared!;
  if (declared === undefined) return Array.isArray(body.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest;
  throw new RegistryError('MANIFEST_INVALID', `manifest invalid: unsupported media type ${declared}`);
}

async function putManifest(ctx: Ctx, name: string, ref: string): Promise<void> {
  const { req, storage } = ctx;
  const target = reference(ref, new RegistryError('MANIFEST_INVALID', 'manifest invalid: invalid tag', { tag: ref }));
  const bytes = await readManifestBody(req);
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: not a JSON object');
  const o = body as Record<string, unknown>;
  if (o.schemaVersion !== 2) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: schemaVersion must be 2');
  const mediaType = manifestType(req.headers['content-type']?.split(';')[0].trim(), o);

  // Everything a manifest points at must already be here, or a pull of it would fail half-way.
  const missing = (digest: string) => new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest references unknown ${digest}`, { digest });
  if (IMAGE_MANIFESTS.has(mediaType)) {
    const config = descriptor(o.config, 'config');
    if (!Array.isArray(o.layers)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: layers must be an array');
    const layers = o.layers.map((l, i) => descriptor(l, `layers[${i}]`));
    for (const desc of [config, ...layers]) {
      // Non-distributable ("foreign") layers are fetched from their `urls`, never pushed.
      if (Array.isArray(desc.urls) && desc.urls.length > 0) continue;
      const size = await storage.blobSize(desc.parsed);
      if (size === undefined) throw missing(desc.digest);
      if (size !== desc.size) {
        throw new RegistryError('MANIFEST_INVALID', `manifest invalid: ${desc.digest} is ${size} bytes, descriptor says ${desc.size}`, { digest: desc.digest });
      }
    }
  } else {
    if (!Array.isArray(o.manifests)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: manifests must be an array');
    const children = o.manifests.map((c, i) => descriptor(c, `manifests[${i}]`));
    for (const c of children) {
      if (!(await storage.manifestMeta(name, c.parsed))) throw missing(c.digest);
    }
  }
  // The subject may legitimately not exist yet (the spec allows pushing referrers first).
  const subject = o.subject === undefined ? undefined : descriptor(o.subject, 'subject').parsed.text;

  // The digest is of the exact bytes received, never of a re-serialisation.
  const alg = target.digest?.alg ?? 'sha256';
  const hex = createHash(alg).update(bytes).digest('hex');
  const d: Digest = { alg, hex, text: `${alg}:${hex}` };
  if (target.digest && target.digest.hex !== hex) {
    throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the reference', { expected: target.digest.text, actual: d.text });
  }

  const meta: ManifestMeta = { digest: d.text, mediaType, size: bytes.length };
  if (subject) meta.subject = subject;
  const artifactType = typeof o.artifactType === 'string' ? o.artifactType
    : IMAGE_MANIFESTS.has(mediaType) ? (o.config as Descriptor).mediaType : undefined;
  if (artifactType) meta.artifactType = artifactType;
  if (o.annotations && typeof o.annotations === 'object') meta.annotations = o.annotations as Record<string, string>;
  await storage.putManifest(name, d, bytes, meta, target.tag);

  const headers: Record<string, string> = { Location: `/v2/${name}/manifests/${d.text}`, 'Docker-Content-Digest': d.text };
  if (subject) headers['OCI-Subject'] = subject; // tells the client we maintain the referrers list ourselves
  send(ctx, 201, headers);
}

// ---- referrers (OCI v1.1) ----

async function referrers(ctx: Ctx, name: string, ref: string): Promise<void> {
  if (ctx.req.method !== 'GET') methodNotAllowed(ctx, ['GET']);
  const d = digestOr(ref, 'referrers');
  const filter = ctx.url.searchParams.get('artifactType');
  let list: ManifestMeta[] = await ctx.storage.referrers(name, d);
  const headers: Record<string, string> = {};
  if (filter !== null) {
    list = list.filter((r) => r.artifactType === filter);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  const manifestsList = list.map((r) => ({
    mediaType: r.mediaType, digest: r.digest, size: r.size,
    ...(r.artifactType ? { artifactType: r.artifactType } : {}),
    ...(r.annotations ? { annotations: r.annotations } : {}),
  }));
  send(ctx, 200, { 'Content-Type': MEDIA.ociIndex, ...headers },
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: manifestsList }));
}
