// `skiff pull`: fetches an image from a registry into the local store.
//
//   1. GET the manifest (by tag or digest) with an Accept for Docker schema2,
//      OCI manifests, manifest lists and OCI indexes; refuse bodies over 4 MiB
//      and verify its digest (the one asked for, or Docker-Content-Digest).
//   2. For a list/index, select the platform (host's, or --platform) and GET
//      that manifest by digest.
//   3. GET the config (kept in memory and verified; it is stored last).
//   4. Download the layers, 3 at once, each unpacked while it downloads
//      (ImageStore.pullLayer: the blob goes to a temporary file and through
//      gunzip into a temporary layer directory at the same time; the blob's
//      digest and the layer's diff_id are verified at the end, before either
//      is renamed into the store). Blobs and layers already present are
//      skipped; a blob without its layer is unpacked from the store
//      (ImageStore.unpackBlob, on a worker thread).
//   5. Store the config and record the image (ImageStore.addImage) last.
//
// So a pull killed at any moment leaves no half image: only verified blobs
// and layers, which the next pull reuses. Two pulls of the same image may run
// at once: every file appears by rename, and the loser of a race keeps the
// winner's identical copy.
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  type Descriptor, type Image, type ImageConfig, type ImageManifest, type ImageStore, MEDIA, parseConfig, sha256, UnpackError,
} from '../image/store.js';
import { SkiffError } from '../util/errors.js';
import { readJsonOr, writeJsonAtomic } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { getCredentials } from './auth.js';
import { type ClientOptions, RegistryClient } from './client.js';
import { ProgressDisplay, type ProgressSink, shortId } from './progress.js';
import { localName, type RemoteReference, resolveReference } from './reference.js';

/** Manifests larger than this are refused before they are parsed. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export interface PullOptions {
  /** "os/arch[/variant]"; default: the host's platform (linux/amd64 here). */
  platform?: string;
  onProgress?: ProgressSink;
  /** Layers downloaded at once (default 3). */
  concurrency?: number;
  /** Transport settings (retries, credentials); credentials default to `skiff login`'s. */
  client?: ClientOptions;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function hostPlatform(): Platform {
  return { os: 'linux', architecture: ARCH[process.arch] ?? process.arch };
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, ...rest] = s.toLowerCase().split('/');
  if (!os || !architecture || rest.length) throw new SkiffError(`invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64`);
  return { os, architecture, variant: variant || undefined };
}

const platformString = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** Layer blobs skiff can unpack. */
const LAYER_TYPES = new Set<string>([
  MEDIA.dockerLayerGzip, MEDIA.ociLayer, MEDIA.ociLayerGzip, MEDIA.ociLayerZstd,
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
]);
const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const IMAGE_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1\+(?:prettyjws|json)$/;

interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  json: Record<string, unknown>;
}

/**
 * GETs a manifest and checks what can be checked before trusting it: size,
 * digest (the one asked for, else the registry's Docker-Content-Digest),
 * and that it is a JSON object.
 */
async function fetchManifest(client: RegistryClient, repository: string, reference: string, expected?: string): Promise<FetchedManifest> {
  const got = await client.getManifest(repository, reference, MAX_MANIFEST_BYTES);
  const digest = sha256(got.bytes);
  if (expected && digest !== expected) throw new SkiffError(`manifest digest mismatch: asked for ${expected}, the content is ${digest}`);
  // (Schema 1 manifests carry signatures their digest excludes; they are refused below anyway.)
  if (!expected && got.digest && got.digest.startsWith('sha256:') && got.digest !== digest && !SCHEMA1.test(got.mediaType)) {
    throw new SkiffError(`manifest digest mismatch: the registry says ${got.digest}, the content is ${digest}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(got.bytes.toString('utf8'));
  } catch {
    throw new SkiffError(`manifest invalid: ${repository}:${reference} is not valid JSON`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new SkiffError(`manifest invalid: ${repository}:${reference} is not a JSON object`);
  const obj = json as Record<string, unknown>;
  const mediaType = typeof obj.mediaType === 'string' ? obj.mediaType : got.mediaType;
  return { bytes: got.bytes, digest, mediaType, json: obj };
}

function isIndex(m: FetchedManifest): boolean {
  return INDEX_TYPES.has(m.mediaType) || (!IMAGE_TYPES.has(m.mediaType) && Array.isArray(m.json.manifests));
}

function validDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor;
  return !!x && typeof x === 'object' && typeof x.digest === 'string' && DIGEST_RE.test(x.digest) && Number.isSafeInteger(x.size) && x.size >= 0;
}

/** Checks an image manifest's shape; every digest must be one the store can name. */
function imageManifest(m: FetchedManifest, name: string): ImageManifest {
  if (SCHEMA1.test(m.mediaType) || m.json.schemaVersion === 1) {
    throw new SkiffError(`manifest invalid: ${name} is a Docker schema 1 manifest, which skiff does not support; push it again with a current client`);
  }
  // The manifest's own mediaType field decides; a server's odd Content-Type
  // (application/json, octet-stream) does not, when the body is a manifest.
  if (typeof m.json.mediaType === 'string' && !IMAGE_TYPES.has(m.mediaType)) {
    throw new SkiffError(`manifest invalid: unsupported media type "${m.mediaType}" for ${name}`);
  }
  const j = m.json as unknown as ImageManifest;
  if (j.schemaVersion !== 2) throw new SkiffError(`manifest invalid: ${name} has schemaVersion ${JSON.stringify(j.schemaVersion)}, expected 2`);
  if (!validDescriptor(j.config)) throw new SkiffError(`manifest invalid: ${name} has no valid config descriptor`);
  if (!Array.isArray(j.layers) || !j.layers.every(validDescriptor)) throw new SkiffError(`manifest invalid: ${name} has an invalid layer list`);
  for (const l of j.layers) {
    if (l.mediaType && !LAYER_TYPES.has(l.mediaType)) throw new SkiffError(`unsupported layer media type "${l.mediaType}" in ${name}`);
  }
  return j;
}

/** Picks the platform's entry of a manifest list / OCI index. */
function selectPlatform(index: FetchedManifest, want: Platform, name: string): Descriptor {
  const entries = (index.json.manifests as unknown[]).filter(validDescriptor);
  const match = entries.filter((d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture);
  const pick = (want.variant ? match.filter((d) => d.platform?.variant === want.variant) : match)[0];
  if (!pick) {
    const have = entries.map((d) => (d.platform ? platformString({ os: d.platform.os ?? '?', architecture: d.platform.architecture ?? '?', variant: d.platform.variant }) : '?'));
    throw new SkiffError(`no matching manifest for ${platformString(want)} in the manifest list entries of ${name} (it has: ${[...new Set(have)].join(', ') || 'none'})`);
  }
  return pick;
}

/** Reads a small blob (the config) into memory, verified. */
async function fetchSmallBlob(client: RegistryClient, repository: string, d: Descriptor, limit: number): Promise<Buffer> {
  if (d.size > limit) throw new SkiffError(`blob ${d.digest} is too large for an image config (${d.size} bytes)`);
  const parts: Buffer[] = [];
  for await (const c of client.blobStream(repository, d.digest, d.size) as AsyncIterable<Buffer>) parts.push(c);
  const bytes = Buffer.concat(parts);
  const got = sha256(bytes);
  if (got !== d.digest) throw new SkiffError(`digest mismatch: expected ${d.digest}, got ${got}`);
  return bytes;
}

class Cancelled extends Error {}

/** Runs tasks with at most `n` at once. */
class Semaphore {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  /** Runs fn when a slot is free; `onWait` is called first if it has to wait. */
  async run<T>(fn: () => Promise<T>, onWait?: () => void): Promise<T> {
    if (this.free > 0) this.free--;
    else {
      onWait?.();
      await new Promise<void>((r) => this.waiting.push(r));
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** Pulls `ref` into the store; returns the image ID (its config digest). */
export async function pullImage(store: ImageStore, ref: string, opts: PullOptions = {}): Promise<string> {
  const r = resolveReference(ref);
  const emit: ProgressSink = opts.onProgress ?? (() => {});
  const want = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const name = `${r.registry}/${r.repository}:${r.tag ?? r.digest}`;
  sweepStaleTemp(store);
  const client = new RegistryClient(r.registry, { ...opts.client, credentials: opts.client?.credentials ?? getCredentials(r.registry, store.root) });
  try {
    if (r.defaultedTag) emit({ kind: 'message', text: 'Using default tag: latest' });

    // 1-2: the manifest, through the index when there is one.
    const top = await fetchManifest(client, r.repository, r.digest ?? r.tag!, r.digest);
    emit({ kind: 'message', text: `${r.tag ?? r.digest}: Pulling from ${r.repository}` });
    let chosen = top;
    if (isIndex(top)) {
      const entry = selectPlatform(top, want, name);
      chosen = await fetchManifest(client, r.repository, entry.digest, entry.digest);
      if (isIndex(chosen)) throw new SkiffError(`manifest invalid: ${name}: an index entry for ${platformString(want)} is itself an index`);
    }
    const manifest = imageManifest(chosen, name);

    // 3: the config, verified, kept in memory until the layers are in.
    const configBytes = store.hasBlob(manifest.config.digest)
      ? store.readBlob(manifest.config.digest)
      : await fetchSmallBlob(client, r.repository, manifest.config, MAX_CONFIG_BYTES);
    let config: ImageConfig;
    try {
      config = parseConfig(configBytes);
    } catch (e) {
      throw new SkiffError(`image config of ${name} is invalid: ${(e as Error).message}`);
    }
    if (opts.platform && !isIndex(top) && config.os && config.architecture && (config.os !== want.os || config.architecture !== want.architecture)) {
      throw new SkiffError(`image with reference ${name} was found but does not match the specified platform: wanted ${platformString(want)}, actual: ${config.os}/${config.architecture}`);
    }
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new SkiffError(`manifest invalid: ${name} lists ${manifest.layers.length} layers, its config expects ${config.rootfs.diff_ids.length}`);
    }

    // 4: the layers.
    await pullLayers(store, client, r, manifest, config, opts.concurrency ?? 3, emit);

    // 5: config, then the image record: the image becomes visible only now.
    store.putBlobBytes(configBytes, manifest.config.digest);
    const local = localName(r);
    const before = safeLookup(store, local)?.id;
    const names = r.digest ? [`${r.localRepository}@${top.digest}`] : [local, `${r.localRepository}@${top.digest}`];
    const id = store.addImage(chosen.bytes, names);
    recordBlobSources(store, [manifest.config.digest, ...manifest.layers.map((l) => l.digest)], `${r.registry}/${r.repository}`);
    emit({ kind: 'message', text: `Digest: ${top.digest}` });
    emit({ kind: 'message', text: `Status: ${before === id ? 'Image is up to date' : 'Downloaded newer image'} for ${local}` });
    return id;
  } finally {
    client.close();
  }
}

async function pullLayers(
  store: ImageStore, client: RegistryClient, r: RemoteReference, manifest: ImageManifest, config: ImageConfig, concurrency: number, emit: ProgressSink,
): Promise<void> {
  // The same layer may be listed twice; handle each blob once.
  const todo = new Map<string, { layer: Descriptor; diffId: string }>();
  manifest.layers.forEach((layer, i) => {
    if (!todo.has(layer.digest)) todo.set(layer.digest, { layer, diffId: config.rootfs.diff_ids[i] });
  });
  for (const { layer, diffId } of todo.values()) {
    const present = store.hasBlob(layer.digest) && store.hasLayer(diffId);
    emit({ kind: 'layer', id: shortId(layer.digest), status: present ? 'Already exists' : 'Pulling fs layer' });
  }
  const downloads = new Semaphore(concurrency);
  let failed = false;
  const tasks = [...todo.values()].map(async ({ layer, diffId }) => {
    const id = shortId(layer.digest);
    if (store.hasBlob(layer.digest) && store.hasLayer(diffId)) return;
    if (!store.hasBlob(layer.digest) && !store.hasLayer(diffId)) {
      // Neither is here: download and unpack in one pass.
      await downloads.run(async () => {
        if (failed) throw new Cancelled();
        await downloadAndUnpack(store, client, r.repository, layer, diffId, id, emit);
      }, () => emit({ kind: 'layer', id, status: 'Waiting' }));
      emit({ kind: 'layer', id, status: 'Pull complete' });
      return;
    }
    if (!store.hasBlob(layer.digest)) {
      await downloads.run(async () => {
        if (failed) throw new Cancelled(); // another layer failed: start no new download
        await downloadLayer(store, client, r.repository, layer, id, emit);
      }, () => emit({ kind: 'layer', id, status: 'Waiting' }));
    } else {
      emit({ kind: 'layer', id, status: 'Download complete' });
    }
    // Unpacking does not hold a download slot: it overlaps the other downloads.
    emit({ kind: 'layer', id, status: 'Extracting' });
    try {
      await store.unpackBlob(diffId, layer.digest);
    } catch (e) {
      throw new SkiffError(`failed to register layer ${layer.digest}: ${(e as Error).message}`);
    }
    emit({ kind: 'layer', id, status: 'Pull complete' });
  });
  // Wait for every task (none keeps writing after we return), report the first failure.
  const results = await Promise.allSettled(tasks.map((t) => t.catch((e: unknown) => {
    failed = true;
    throw e;
  })));
  const bad = results.find((x): x is PromiseRejectedResult => x.status === 'rejected' && !(x.reason instanceof Cancelled));
  if (bad) throw bad.reason;
}

async function downloadAndUnpack(
  store: ImageStore, client: RegistryClient, repository: string, layer: Descriptor, diffId: string, id: string, emit: ProgressSink,
): Promise<void> {
  let current = 0;
  emit({ kind: 'layer', id, status: 'Downloading', current, total: layer.size });
  const stream: Readable = client.blobStream(repository, layer.digest, layer.size);
  try {
    await store.pullLayer(stream, layer.digest, diffId, (n) => {
      current += n;
      emit({ kind: 'layer', id, status: 'Downloading', current, total: layer.size });
    });
  } catch (e) {
    if (e instanceof UnpackError) throw new SkiffError(`failed to register layer ${layer.digest}: ${e.message}`);
    if (e instanceof SkiffError) throw new SkiffError(`layer ${layer.digest}: ${e.message}`);
    throw new SkiffError(`layer ${layer.digest}: download failed: ${(e as Error).message}`);
  }
  emit({ kind: 'layer', id, status: 'Verifying Checksum' });
  emit({ kind: 'layer', id, status: 'Download complete' });
}

async function downloadLayer(store: ImageStore, client: RegistryClient, repository: string, layer: Descriptor, id: string, emit: ProgressSink): Promise<void> {
  let current = 0;
  emit({ kind: 'layer', id, status: 'Downloading', current, total: layer.size });
  const stream: Readable = client.blobStream(repository, layer.digest, layer.size);
  try {
    await store.putBlob(stream, layer.digest, (n) => {
      current += n;
      emit({ kind: 'layer', id, status: 'Downloading', current, total: layer.size });
    });
  } catch (e) {
    if (e instanceof SkiffError) throw new SkiffError(`layer ${layer.digest}: ${e.message}`);
    throw new SkiffError(`layer ${layer.digest}: download failed: ${(e as Error).message}`);
  }
  emit({ kind: 'layer', id, status: 'Verifying Checksum' });
  emit({ kind: 'layer', id, status: 'Download complete' });
}

function safeLookup(store: ImageStore, ref: string): Image | undefined {
  try {
    return store.lookup(ref);
  } catch {
    return undefined;
  }
}

// ---- run/create: pull a missing image -------------------------------------------

export interface EnsureOptions {
  platform?: string;
  /** No progress output (the "Unable to find" line is still printed). */
  quiet?: boolean;
  /** Where the pull's output goes; stderr by default, like Docker's `run`. */
  out?: Writable & { isTTY?: boolean; columns?: number };
  client?: ClientOptions;
}

/**
 * The image `ref` names, pulled first when it is not in the store, as
 * `docker run` does: "Unable to find image 'busybox:latest' locally", then
 * the pull's progress.
 */
export async function ensureImage(store: ImageStore, ref: string, opts: EnsureOptions = {}): Promise<Image> {
  const found = safeLookup(store, ref);
  if (found) return found;
  const r = resolveReference(ref); // a bad reference fails here with a clear message
  const familiar = safeLookup(store, localName(r));
  if (familiar) return familiar;
  const out = opts.out ?? process.stderr;
  out.write(`Unable to find image '${localName(r)}' locally\n`);
  const display = opts.quiet ? undefined : new ProgressDisplay(out);
  // The normalized name (tag filled in), so there is no "Using default tag" line, as with Docker's run.
  const id = await pullImage(store, localName(r), { platform: opts.platform, onProgress: display?.handle, client: opts.client });
  return store.get(id);
}

// ---- where blobs came from (for cross-repo mounts on push) ------------------------

/** $SKIFF_ROOT/image/blob-sources.json: digest -> ["registry/repository", ...] it was pulled from or pushed to. */
function sourcesFile(store: ImageStore): string {
  return join(store.dir, 'blob-sources.json');
}

export function blobSources(store: ImageStore): Record<string, string[]> {
  try {
    return readJsonOr<Record<string, string[]>>(sourcesFile(store), {});
  } catch {
    return {}; // only a hint for mounts: a broken file costs an upload, nothing more
  }
}

export function recordBlobSources(store: ImageStore, digests: string[], repo: string): void {
  withLock('blob-sources', () => {
    const all = blobSources(store);
    for (const d of digests) {
      const list = (all[d] ?? []).filter((x) => x !== repo);
      all[d] = [repo, ...list].slice(0, 8);
    }
    writeJsonAtomic(sourcesFile(store), all);
  });
}

// ---- leftovers of killed pulls -----------------------------------------------------

/**
 * Removes the store's temp files (`.tmp-PID-RANDOM`, in the blob and layer
 * directories) whose process is gone: what a kill -9 in the middle of a
 * download or unpack leaves. They were never visible; this frees the space.
 */
export function sweepStaleTemp(store: ImageStore): void {
  store.sweepTemporaries();
}


