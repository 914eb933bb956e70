// Helpers for the registry client tests: a real registry (Debian's
// docker-registry, Distribution 2.8) on a free loopback port, a small
// scriptable test registry (node:http) for hostile and faulty servers, private
// SKIFF_ROOTs, and an fsck of the image store.
//
// Everything listens on 127.0.0.1 only, and every test removes what it made.
import type { ExecutionContext } from 'ava';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type ImageStore, parseConfig, parseManifest } from '../../runtime/image/store.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled tree this file is part of (dist/, or a private build dir). */
export const distRoot = join(here, '..', '..');
/** The source checkout: where the fixtures are. */
export const repoRoot = [join(distRoot, '..'), process.cwd(), '/work/main'].find((d) => existsSync(join(d, 'rootfs-fixtures', 'busybox.sh')))!;
export const fixtures = join(repoRoot, 'rootfs-fixtures', 'out');
export const layeredTar = join(fixtures, 'busybox-layered.tar');

export function ensureFixtures(): void {
  if (existsSync(layeredTar)) return;
  execFileSync('bash', [join(repoRoot, 'rootfs-fixtures', 'busybox.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The programs the registry tests run, by Debian package (see _tools.ts). */
export const REGISTRY = { 'docker-registry': 'docker-registry' };
export const SKOPEO = { skopeo: 'skopeo' };
export const HTPASSWD = { htpasswd: 'apache2-utils' };

/** A private SKIFF_ROOT (0711, like the other integration tests), removed at teardown. Also becomes process.env.SKIFF_ROOT. */
export function tempRoot(t: ExecutionContext): string {
  const root = mkdtempSync('/tmp/skiff-regtest-');
  chmodSync(root, 0o711);
  process.env.SKIFF_ROOT = root; // the store's locks live under the env root
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until a response can take more data (or is gone). */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

// ---- Debian's docker-registry --------------------------------------------------------

export interface RealRegistry {
  host: string; // 127.0.0.1:PORT
  port: number;
  dir: string;
  /** Everything the registry printed (its access log has one line per request). */
  log(): string;
  creds?: { username: string; password: string };
}

/** Starts `docker-registry serve` on a free loopback port; stops it and removes its storage at teardown. */
export async function startRegistry(t: ExecutionContext, opts: { htpasswd?: { username: string; password: string } } = {}): Promise<RealRegistry> {
  const dir = mkdtempSync('/tmp/skiff-registry-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  let auth = '';
  if (opts.htpasswd) {
    const line = execFileSync('htpasswd', ['-Bbn', opts.htpasswd.username, opts.htpasswd.password], { encoding: 'utf8' });
    writeFileSync(join(dir, 'htpasswd'), line);
    auth = `auth: {htpasswd: {realm: basic-realm, path: ${join(dir, 'htpasswd')}}}\n`;
  }
  writeFileSync(join(dir, 'config.yml'), [
    'version: 0.1',
    'log: {level: warn}',
    `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`,
    `http: {addr: 127.0.0.1:${port}, secret: skiff-test-secret}`,
    auth,
  ].join('\n'));
  let output = '';
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  t.teardown(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  // Ready when /v2/ answers (200, or 401 with auth).
  for (let i = 0; ; i++) {
    const status = await new Promise<number>((resolve) => {
      http.get(`http://127.0.0.1:${port}/v2/`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', () => resolve(0));
    });
    if (status === 200 || status === 401) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`docker-registry did not start: ${output}`);
    await sleep(50);
  }
  return { host: `127.0.0.1:${port}`, port, dir, log: () => output, creds: opts.htpasswd };
}

/** Pushes the layered busybox fixture with skopeo (gzip-compressed Docker schema2, as a real registry holds images). */
export function seed(reg: RealRegistry, repoTag: string): void {
  const args = ['copy', '-q', '--dest-tls-verify=false'];
  if (reg.creds) args.push('--dest-creds', `${reg.creds.username}:${reg.creds.password}`);
  execFileSync('skopeo', [...args, `docker-archive:${layeredTar}`, `docker://${reg.host}/${repoTag}`], { stdio: ['ignore', 'ignore', 'pipe'] });
}

// ---- images made in memory ---------------------------------------------------------------

export interface MemImage {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: Array<{ digest: string; diffId: string; size: number }>;
  blobs: Map<string, Buffer>;
}

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The layer tars of the layered busybox fixture, uncompressed. */
export function fixtureLayers(): Buffer[] {
  const manifest = JSON.parse(execFileSync('tar', ['xOf', layeredTar, 'manifest.json'], { encoding: 'utf8' })) as Array<{ Layers: string[] }>;
  return manifest[0].Layers.map((l) => execFileSync('tar', ['xOf', layeredTar, l], { maxBuffer: 64 * 1024 * 1024 }));
}

/** A Docker schema2 image of these layer tars, gzip-compressed like a registry serves them. */
export function buildImage(layerTars: Buffer[]): MemImage {
  const blobs = new Map<string, Buffer>();
  const layers = layerTars.map((tar) => {
    const gz = gzipSync(tar);
    const digest = sha256(gz);
    blobs.set(digest, gz);
    return { digest, diffId: sha256(tar), size: gz.length };
  });
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  }));
  const configDigest = sha256(config);
  blobs.set(configDigest, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.size, digest: l.digest })),
  }));
  return { manifest, manifestDigest: sha256(manifest), config, configDigest, layers, blobs };
}

// ---- a scriptable test registry -------------------------------------------------------------

export interface TestRegistryOptions {
  repo: string;
  tag: string;
  image: MemImage;
  /** Serve this blob with one byte changed. */
  corruptBlob?: string;
  /** Destroy the socket halfway through the first GET of every blob. */
  dropFirstBlobGet?: boolean;
  /** Answer Range requests with the whole blob (200), as some servers do. */
  ignoreRange?: boolean;
  /** Serve this instead of the manifest (garbage tests); `chunked` omits Content-Length. */
  manifestBody?: Buffer;
  manifestChunked?: boolean;
  /** Send blobs `chunk` bytes at a time, `delayMs` apart (mutable: tests speed it up later). */
  slow?: { chunk: number; delayMs: number };
  /** Answer this many of the first manifest and blob requests with 503 (then 429) before serving them. */
  unavailable?: number;
  /** Serve this OCI index for the tag (and by its digest); the image manifest stays reachable by digest. */
  index?: Buffer;
  /** Require bearer tokens from /token, issued for these credentials. */
  bearer?: { username: string; password: string };
}

export interface TestRegistry {
  host: string;
  opts: TestRegistryOptions;
  /** "METHOD path [range]" per request. */
  requests: string[];
  /** Bytes of each blob written to sockets so far. */
  sent: Map<string, number>;
}

export async function startTestRegistry(t: ExecutionContext, opts: TestRegistryOptions): Promise<TestRegistry> {
  const requests: string[] = [];
  const sent = new Map<string, number>();
  const blobGets = new Map<string, number>();
  let port = 0;
  const tokens = new Set<string>();

  const unauthorized = (res: http.ServerResponse, scope?: string) => {
    res.writeHead(401, {
      'Content-Type': 'application/json',
      'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="skiff-test"${scope ? `,scope="${scope}"` : ''}`,
    });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] }));
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (opts.bearer) {
      if (url.pathname === '/token') {
        const want = `Basic ${Buffer.from(`${opts.bearer.username}:${opts.bearer.password}`).toString('base64')}`;
        if (req.headers.authorization !== want) {
          res.writeHead(401, { 'Content-Type': 'application/json' });
          return res.end(JSON.stringify({ details: 'incorrect username or password' }));
        }
        const token = `tok-${tokens.size}-${url.searchParams.getAll('scope').join('+')}`;
        tokens.add(token);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ token, expires_in: 300 }));
      }
      const scope = `repository:${opts.repo}:pull`;
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (url.pathname === '/v2/') {
        if (!tokens.has(token)) return unauthorized(res);
      } else if (!tokens.has(token) || !token.includes(scope)) {
        return unauthorized(res, scope);
      }
    }
    if (url.pathname === '/v2/') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end('{}');
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m || m[1] !== opts.repo) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name: m?.[1] } }] }));
    }
    const [, , kind, ref] = m;
    if (opts.unavailable && opts.unavailable > 0) {
      const status = opts.unavailable-- % 2 ? 503 : 429;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: status === 503 ? 'UNAVAILABLE' : 'TOOMANYREQUESTS', message: 'try again' }] }));
    }
    if (kind === 'manifests') {
      if (opts.index && (ref === opts.tag || ref === sha256(opts.index))) {
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.index.v1+json', 'Content-Length': opts.index.length, 'Docker-Content-Digest': sha256(opts.index) });
        return res.end(opts.index);
      }
      if (ref !== opts.tag && ref !== opts.image.manifestDigest) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: ref } }] }));
      }
      const body = opts.manifestBody ?? opts.image.manifest;
      const headers: Record<string, string | number> = { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' };
      if (!opts.manifestBody) headers['Docker-Content-Digest'] = opts.image.manifestDigest;
      if (!opts.manifestChunked) headers['Content-Length'] = body.length;
      res.writeHead(200, headers);
      // Written in pieces, so a client that gives up early really stops reading.
      for (let i = 0; i < body.length && !res.destroyed; i += 64 * 1024) {
        if (!res.write(body.subarray(i, i + 64 * 1024))) await drained(res);
      }
      return res.end();
    }
    let blob = opts.image.blobs.get(ref);
    if (!blob) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: ref }] }));
    }
    if (ref === opts.corruptBlob) {
      blob = Buffer.from(blob);
      blob[blob.length >> 1] ^= 0xff;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Length': blob.length });
      return res.end();
    }
    const n = (blobGets.get(ref) ?? 0) + 1;
    blobGets.set(ref, n);
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !opts.ignoreRange) {
      start = Number(range[1]);
      res.writeHead(206, { 'Content-Length': blob.length - start, 'Content-Range': `bytes ${start}-${blob.length - 1}/${blob.length}` });
    } else {
      res.writeHead(200, { 'Content-Length': blob.length });
    }
    const body = blob.subarray(start);
    const dropAt = opts.dropFirstBlobGet && n === 1 ? body.length >> 1 : -1;
    let off = 0;
    while (off < body.length && !res.destroyed) {
      const step = opts.slow ? opts.slow.chunk : 256 * 1024;
      let end = Math.min(body.length, off + step);
      if (dropAt >= 0 && off < dropAt && end >= dropAt) end = dropAt;
      const piece = body.subarray(off, end);
      const ok = res.write(piece);
      off = end;
      sent.set(ref, (sent.get(ref) ?? 0) + piece.length);
      if (off === dropAt) {
        // Let the bytes reach the client, then cut the connection mid-body.
        await sleep(20);
        req.socket.destroy();
        return;
      }
      if (!ok) await drained(res);
      if (opts.slow) await sleep(opts.slow.delayMs);
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { host: `127.0.0.1:${port}`, opts, requests, sent };
}

// ---- fsck -------------------------------------------------------------------------------------

const fileDigest = (path: string) => sha256(readFileSync(path));

/**
 * Checks the store the way a careful reader would: every image record's
 * manifest, config and layer blobs exist and hash to their digests, every
 * layer is unpacked, and every name points at an image. Returns the problems.
 */
export function fsck(store: ImageStore): string[] {
  const problems: string[] = [];
  const checkBlob = (digest: string, what: string): boolean => {
    if (!store.hasBlob(digest)) {
      problems.push(`${what}: blob ${digest} is missing`);
      return false;
    }
    const got = fileDigest(store.blobPath(digest));
    if (got !== digest) problems.push(`${what}: blob ${digest} hashes to ${got}`);
    return got === digest;
  };
  for (const id of store.ids()) {
    const md = store.manifestDigest(id);
    if (!md || !checkBlob(md, `image ${id} manifest`)) continue;
    const manifest = parseManifest(store.readBlob(md));
    if (manifest.config.digest !== id) problems.push(`image ${id}: manifest names config ${manifest.config.digest}`);
    if (!checkBlob(id, `image ${id} config`)) continue;
    const config = parseConfig(store.readBlob(id));
    if (config.rootfs.diff_ids.length !== manifest.layers.length) problems.push(`image ${id}: layer count mismatch`);
    manifest.layers.forEach((l, i) => {
      checkBlob(l.digest, `image ${id} layer ${i}`);
      const diffId = config.rootfs.diff_ids[i];
      if (!store.hasLayer(diffId)) problems.push(`image ${id}: layer ${diffId} is not unpacked`);
    });
  }
  const ids = new Set(store.ids());
  for (const [name, id] of Object.entries(store.repositories())) {
    if (!ids.has(id)) problems.push(`name ${name} points at missing image ${id}`);
  }
  return problems;
}

/** Temp files the store leaves behind (hidden, never visible as content). */
export function tempLeftovers(store: ImageStore): string[] {
  const out: string[] = [];
  for (const dir of [join(store.dir, 'blobs', 'sha256'), store.layersDir]) {
    if (!existsSync(dir)) continue;
    out.push(...readdirSync(dir).filter((n) => n.startsWith('.tmp-')).map((n) => join(dir, n)));
  }
  return out;
}

export function blobCount(store: ImageStore): number {
  const dir = join(store.dir, 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)).length : 0;
}

/** Writes a small ESM script into `dir` that imports the compiled runtime, for child processes. */
export function writeScript(dir: string, name: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, body.replaceAll('@DIST@', distRoot));
  return path;
}
