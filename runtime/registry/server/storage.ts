// The registry's state on disk, under one root:
//
//   blobs/<alg>/<hex>                        content-addressed blobs (layers, configs, manifests' bytes)
//   uploads/<uuid>/data, uploads/<uuid>/repo an upload in progress and the repository it was started for
//   repositories/<name>/_tags/<tag>          a tag: the digest it points at
//   repositories/<name>/_manifests/<alg>/<hex>  a manifest of this repository: {digest, mediaType, size, ...}
//   tmp/                                     temporary files, renamed into place when complete
//
// Blobs are global: a layer pushed to one repository is present in all of
// them, which is what makes a cross-repository mount free. Repository state
// lives in directories whose names start with `_` because a repository name
// component cannot (the name grammar starts each component with [a-z0-9]), so
// repository `a` with a tag and repository `a/tags` can never collide.
//
// Every write is temp file + rename, so a reader (or a restart after a crash)
// sees either the old file or the new one, and a blob appears under blobs/
// only after its digest was verified.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError } from './errors.js';

// ---- grammar (OCI distribution spec, "Pulling manifests") ----

/** Repository name: lowercase path components joined by `/`, each separated inside by `.`, `_`, `__` or dashes. */
export const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** The algorithms we can verify; anything else is DIGEST_INVALID rather than stored unverified. */
const DIGEST_RE = /^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Distribution's limit; path components must also stay under the filesystem's 255 bytes. */
export const MAX_NAME_LENGTH = 255;

export interface Digest { alg: 'sha256' | 'sha512'; hex: string; text: string }

export function parseDigest(s: string): Digest | undefined {
  const m = DIGEST_RE.exec(s);
  if (!m) return undefined;
  const alg = (m[1] ?? m[3]) as Digest['alg'];
  const hex = m[2] ?? m[4];
  return { alg, hex, text: `${alg}:${hex}` };
}

export const isValidName = (name: string) => name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
export const isUploadId = (id: string) => UUID_RE.test(id);

/** What we remember about a manifest besides its bytes (which live under blobs/). */
export interface ManifestMeta {
  digest: string;
  mediaType: string;
  size: number;
  /** For the referrers API: the manifest's subject, artifactType and annotations. */
  subject?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

// ---- small helpers ----

const isENOENT = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

async function sizeOr(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch (e) {
    if (isENOENT(e)) return undefined;
    throw e;
  }
}

async function hashFile(path: string, alg: string): Promise<string> {
  const h = createHash(alg);
  await pipeline(createReadStream(path), async function* (src) {
    for await (const chunk of src) h.update(chunk as Buffer);
  });
  return h.digest('hex');
}

/** Serialises async work per key (one upload's PATCHes and PUT must not interleave). */
class KeyedLock {
  private tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** The running hash of an upload, valid while `offset` equals the data file's size. */
interface HashState { hash: Hash; offset: number }

const UPLOAD_MAX_AGE_MS = 7 * 24 * 3600_000; // Distribution purges uploads after a week too
const TMP_MAX_AGE_MS = 3600_000;
const MAX_HASH_STATES = 1024;

export class Storage {
  private readonly lock = new KeyedLock();
  /**
   * Hashing as the bytes arrive saves re-reading a multi-GB upload at commit.
   * It is only an optimisation: after a restart, an aborted chunk or a
   * truncation the state is dropped and the commit hashes the file from disk.
   */
  private readonly hashes = new Map<string, HashState>();

  constructor(readonly root: string) {}

  private get tmpDir() { return join(this.root, 'tmp'); }
  private blobPath(d: Digest) { return join(this.root, 'blobs', d.alg, d.hex); }
  private uploadDir(uuid: string) { return join(this.root, 'uploads', uuid); }
  private repoDir(name: string) { return join(this.root, 'repositories', name); }
  private tagPath(name: string, tag: string) { return join(this.repoDir(name), '_tags', tag); }
  private manifestMetaPath(name: string, d: Digest) { return join(this.repoDir(name), '_manifests', d.alg, d.hex); }

  /** Creates the layout and drops what a crash or an abandoned client left behind. */
  async init(): Promise<void> {
    for (const d of ['blobs/sha256', 'uploads', 'repositories', 'tmp']) await mkdir(join(this.root, d), { recursive: true });
    await this.purgeOlderThan(this.tmpDir, TMP_MAX_AGE_MS);
    await this.purgeOlderThan(join(this.root, 'uploads'), UPLOAD_MAX_AGE_MS);
  }

  private async purgeOlderThan(dir: string, ageMs: number): Promise<void> {
    const now = Date.now();
    for (const e of await readdir(dir)) {
      const p = join(dir, e);
      try {
        if (now - (await stat(p)).mtimeMs > ageMs) await rm(p, { recursive: true, force: true });
      } catch { /* raced with another remover */ }
    }
  }

  /** Writes a small file atomically: temp file in tmp/, fsync, rename over the target. */
  private async writeAtomic(path: string, data: string | Buffer): Promise<void> {
    const tmp = join(this.tmpDir, `${randomUUID()}`);
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await mkdir(join(path, '..'), { recursive: true });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  // ---- blobs ----

  /** The blob's size, or undefined when it is not stored. */
  blobSize(d: Digest): Promise<number | undefined> {
    return sizeOr(this.blobPath(d));
  }

  /** A stream of the blob's bytes `start..end` (inclusive). */
  openBlob(d: Digest, start?: number, end?: number): Readable {
    return createReadStream(this.blobPath(d), { start, end });
  }

  private async putBlobBytes(d: Digest, bytes: Buffer): Promise<void> {
    if ((await this.blobSize(d)) === bytes.length) return; // content-addressed: same digest, same bytes
    await this.writeAtomic(this.blobPath(d), bytes);
  }

  // ---- uploads ----

  async createUpload(repo: string): Promise<string> {
    const uuid = randomUUID();
    const dir = this.uploadDir(uuid);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'data'), '');
    // Written last: an upload is "known" only once both files exist.
    await writeFile(join(dir, 'repo'), repo);
    // Abandoned uploads would otherwise keep their hash state forever; dropping
    // the oldest only costs that upload a re-read from disk at commit.
    if (this.hashes.size >= MAX_HASH_STATES) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(uuid, { hash: createHash('sha256'), offset: 0 });
    return uuid;
  }

  /** The upload's current size; BLOB_UPLOAD_UNKNOWN if it does not exist or belongs to another repository. */
  async uploadSize(repo: string, uuid: string): Promise<number> {
    const unknown = () => new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid });
    if (!isUploadId(uuid)) throw unknown();
    let owner: string;
    try {
      owner = await readFile(join(this.uploadDir(uuid), 'repo'), 'utf8');
    } catch (e) {
      if (isENOENT(e)) throw unknown();
      throw e;
    }
    const size = await sizeOr(join(this.uploadDir(uuid), 'data'));
    if (owner !== repo || size === undefined) throw unknown();
    return size;
  }

  /**
   * Appends a request body to an upload, streaming it to disk.
   * `range` is the client's Content-Range: chunks must arrive in order, so a
   * start other than the current size is rejected with 416 and the current
   * Range, which tells the client where to resume.
   */
  appendUpload(repo: string, uuid: string, body: Readable, range?: { start: number; end: number }): Promise<number> {
    return this.lock.run(uuid, () => this.appendLocked(repo, uuid, body, range));
  }

  private async appendLocked(repo: string, uuid: string, body: Readable, range?: { start: number; end: number }): Promise<number> {
    const size = await this.uploadSize(repo, uuid);
    if (range && range.start !== size) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `chunk starts at ${range.start}, upload has ${size} bytes`, { uuid }, 416)
        .withHeaders({ Range: rangeHeader(size) });
    }
    let state = this.hashes.get(uuid);
    if (state && state.offset !== size) {
      this.hashes.delete(uuid);
      state = undefined;
    }
    let written = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        state?.hash.update(chunk);
        cb(null, chunk);
      },
    });
    const data = join(this.uploadDir(uuid), 'data');
    try {
      await pipeline(body, tap, createWriteStream(data, { flags: 'a' }));
    } catch (e) {
      // The client went away mid-chunk: what arrived stays (the next
      // Content-Range must start after it), but the running hash is now unknown.
      this.hashes.delete(uuid);
      throw e;
    }
    if (range && written !== range.end - range.start + 1) {
      // The body disagrees with its own Content-Range: undo the chunk.
      this.hashes.delete(uuid);
      await truncate(data, size);
      throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range says ${range.end - range.start + 1} bytes, body had ${written}`, { uuid }, 416)
        .withHeaders({ Range: rangeHeader(size) });
    }
    if (state) state.offset += written;
    return size + written;
  }

  /**
   * Appends the final chunk (possibly empty), verifies the whole upload
   * against `digest` and only then renames it into blobs/. On a mismatch the
   * upload is discarded (as Distribution does) and no blob appears.
   */
  finishUpload(repo: string, uuid: string, d: Digest, body: Readable, range?: { start: number; end: number }): Promise<number> {
    return this.lock.run(uuid, async () => {
      const size = await this.appendLocked(repo, uuid, body, range);
      const data = join(this.uploadDir(uuid), 'data');
      const state = this.hashes.get(uuid);
      const hex = d.alg === 'sha256' && state && state.offset === size ? state.hash.digest('hex') : await hashFile(data, d.alg);
      if (hex !== d.hex) {
        await this.removeUpload(uuid);
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
          expected: d.text, actual: `${d.alg}:${hex}`, size,
        });
      }
      // fsync before the rename, so a crash cannot leave a blob name pointing at unwritten bytes.
      const fh = await open(data, 'r+');
      try { await fh.sync(); } finally { await fh.close(); }
      await mkdir(join(this.root, 'blobs', d.alg), { recursive: true });
      await rename(data, this.blobPath(d));
      await this.removeUpload(uuid);
      return size;
    });
  }

  cancelUpload(repo: string, uuid: string): Promise<void> {
    return this.lock.run(uuid, async () => {
      await this.uploadSize(repo, uuid);
      await this.removeUpload(uuid);
    });
  }

  private async removeUpload(uuid: string): Promise<void> {
    this.hashes.delete(uuid);
    await rm(this.uploadDir(uuid), { recursive: true, force: true });
  }

  // ---- manifests and tags ----

  async repoExists(name: string): Promise<boolean> {
    try {
      return (await stat(join(this.repoDir(name), '_manifests'))).isDirectory();
    } catch (e) {
      if (isENOENT(e)) return false;
      throw e;
    }
  }

  /** Stores a verified manifest: bytes as a blob, then the repository's record, then the tag. */
  async putManifest(name: string, d: Digest, bytes: Buffer, meta: ManifestMeta, tag?: string): Promise<void> {
    await this.putBlobBytes(d, bytes);
    await this.writeAtomic(this.manifestMetaPath(name, d), JSON.stringify(meta));
    if (tag) await this.writeAtomic(this.tagPath(name, tag), d.text);
  }

  async manifestMeta(name: string, d: Digest): Promise<ManifestMeta | undefined> {
    try {
      return JSON.parse(await readFile(this.manifestMetaPath(name, d), 'utf8')) as ManifestMeta;
    } catch (e) {
      if (isENOENT(e)) return undefined;
      throw e;
    }
  }

  async resolveTag(name: string, tag: string): Promise<Digest | undefined> {
    try {
      return parseDigest((await readFile(this.tagPath(name, tag), 'utf8')).trim());
    } catch (e) {
      if (isENOENT(e)) return undefined;
      throw e;
    }
  }

  /** A manifest by tag or digest, with its exact stored bytes; undefined when unknown here. */
  async getManifest(name: string, ref: string): Promise<{ meta: ManifestMeta; bytes: Buffer } | undefined> {
    const d = parseDigest(ref) ?? (TAG_RE.test(ref) ? await this.resolveTag(name, ref) : undefined);
    if (!d) return undefined;
    const meta = await this.manifestMeta(name, d);
    if (!meta) return undefined;
    try {
      return { meta, bytes: await readFile(this.blobPath(d)) };
    } catch (e) {
      if (isENOENT(e)) return undefined;
      throw e;
    }
  }

  /**
   * Deleting by digest removes the manifest from the repository along with
   * every tag pointing at it (a tag must not dangle); deleting by tag removes
   * only the tag. The bytes stay under blobs/: another repository may share them.
   */
  async deleteManifest(name: string, ref: string): Promise<boolean> {
    const d = parseDigest(ref);
    if (!d) {
      if (!TAG_RE.test(ref)) return false;
      try {
        await unlink(this.tagPath(name, ref));
        return true;
      } catch (e) {
        if (isENOENT(e)) return false;
        throw e;
      }
    }
    if (!(await this.manifestMeta(name, d))) return false;
    for (const tag of await this.tagNames(name)) {
      if ((await this.resolveTag(name, tag))?.text === d.text) await rm(this.tagPath(name, tag), { force: true });
    }
    await rm(this.manifestMetaPath(name, d), { force: true });
    return true;
  }

  private async tagNames(name: string): Promise<string[]> {
    try {
      return await readdir(join(this.repoDir(name), '_tags'));
    } catch (e) {
      if (isENOENT(e)) return [];
      throw e;
    }
  }

  /** Tags in lexical (byte) order, as pagination with `last` requires. */
  async tags(name: string): Promise<string[]> {
    return (await this.tagNames(name)).filter((t) => TAG_RE.test(t)).sort(byteOrder);
  }

  /** Every repository: a directory under repositories/ that has a `_manifests` directory. */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.root, 'repositories', rel), { withFileTypes: true });
      } catch (e) {
        if (isENOENT(e)) return;
        throw e;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        if (e.name === '_manifests') out.push(rel);
        else if (!e.name.startsWith('_')) await walk(rel ? `${rel}/${e.name}` : e.name);
      }
    };
    await walk('');
    return out.sort(byteOrder);
  }

  /** Manifests of this repository whose `subject` is `d` (the referrers API). */
  async referrers(name: string, d: Digest): Promise<ManifestMeta[]> {
    const out: ManifestMeta[] = [];
    for (const alg of ['sha256', 'sha512'] as const) {
      let hexes: string[];
      try {
        hexes = await readdir(join(this.repoDir(name), '_manifests', alg));
      } catch (e) {
        if (isENOENT(e)) continue;
        throw e;
      }
      for (const hex of hexes) {
        const meta = await this.manifestMeta(name, { alg, hex, text: `${alg}:${hex}` });
        if (meta?.subject === d.text) out.push(meta);
      }
    }
    return out.sort((a, b) => byteOrder(a.digest, b.digest));
  }
}

/** Plain code-unit order (for ASCII, byte order), never locale order. */
export const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The Range header of an upload's status: the inclusive byte range received.
 * With nothing received it still reads `0-0` (Distribution does this, and
 * Docker clients expect it), so a client cannot tell 0 bytes from 1 byte by
 * this header alone; it is only advisory there.
 */
export function rangeHeader(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}
