// The local image store.
//
//   $SKIFF_ROOT/image/blobs/sha256/<hex>   content-addressed blobs: manifests, configs, and layers
//                                          exactly as distributed (gzip or plain tar), so push and
//                                          save reproduce the same digests
//   $SKIFF_ROOT/image/layers/<hex>/        one unpacked layer (an overlay lowerdir), named by diff_id;
//                                          layers/ is chattr +T (see makeLayersDir)
//   $SKIFF_ROOT/image/layers/<hex>.json    {size} of that layer
//   $SKIFF_ROOT/image/images/<hex>.json    {manifest: digest}: one per image; <hex> = config digest = image ID
//   $SKIFF_ROOT/image/repositories.json    {"busybox:latest": "sha256:<id>", "reg/x@sha256:..": "sha256:<id>"}
//
// Everything appears by rename() only after it was written and verified, and
// an image record is written last, after its blobs and layers: a pull or load
// killed at any moment leaves no half image visible, and the next one reuses
// the verified blobs and layers.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, constants, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync,
  statSync, write, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FS_TOPDIR_FL, inodeFlags, setInodeFlags } from '../../native-bindings/libc.js';
import { SkiffError } from '../util/errors.js';
import { streamedBytes } from '../util/gc.js';
import { readJsonOr, writeJsonAtomic } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { sweepStale } from '../util/stale.js';
import { mark } from '../util/trace.js';
import { paths, skiffRoot } from '../util/paths.js';
import { normalizeReference } from './reference.js';

/** The parts of an OCI image config skiff reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
    Hostname?: string;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; author?: string; empty_layer?: boolean; comment?: string }>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

/** An image manifest (Docker schema2 or OCI): what push and save send. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Image {
  id: string; // sha256:<hex> of the config
  config: ImageConfig;
  repoTags: string[];
  repoDigests: string[];
}

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const hexOf = (digest: string) => digest.replace(/^sha256:/, '');
export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** pullLayer: the blob is the one asked for, but its content was refused or could not be unpacked. */
export class UnpackError extends SkiffError {}

/** Layer directories already marked chattr +T by this process (makeLayersDir). */
const topDirsMarked = new Set<string>();

export class ImageStore {
  readonly dir: string;
  constructor(readonly root = skiffRoot()) {
    this.dir = paths.images(root);
  }

  get layersDir() { return paths.layers(this.root); }
  private get blobsDir() { return join(this.dir, 'blobs', 'sha256'); }
  private get imagesDir() { return join(this.dir, 'images'); }
  private get reposFile() { return join(this.dir, 'repositories.json'); }
  private tmpName(dir: string) { return join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`); }

  // ---- blobs -------------------------------------------------------------

  blobPath(digest: string): string {
    if (!DIGEST_RE.test(digest)) throw new SkiffError(`unsupported digest "${digest}"`);
    return join(this.blobsDir, hexOf(digest));
  }

  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  readBlob(digest: string): Buffer {
    return readFileSync(this.blobPath(digest));
  }

  blobSize(digest: string): number {
    return statSync(this.blobPath(digest)).size;
  }

  /** Streams into the store; with `expected`, a mismatch stores nothing and throws. */
  async putBlob(input: Readable, expected?: string, onBytes?: (n: number) => void): Promise<{ digest: string; size: number }> {
    mkdirSync(this.blobsDir, { recursive: true });
    const tmp = this.tmpName(this.blobsDir);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        size += chunk.length;
        onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(input, meter, createWriteStream(tmp));
      mark('blob-written');
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected && digest !== expected) throw new SkiffError(`digest mismatch: expected ${expected}, got ${digest}`);
      renameSync(tmp, this.blobPath(digest));
      return { digest, size };
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  putBlobBytes(bytes: Buffer, expected?: string): string {
    const digest = sha256(bytes);
    if (expected && digest !== expected) throw new SkiffError(`digest mismatch: expected ${expected}, got ${digest}`);
    mkdirSync(this.blobsDir, { recursive: true });
    if (!this.hasBlob(digest)) {
      const tmp = this.tmpName(this.blobsDir);
      writeFileSync(tmp, bytes);
      renameSync(tmp, this.blobPath(digest));
    }
    return digest;
  }

  // ---- layers --------------------------------------------------------------

  layerPath(diffId: string): string {
    return join(this.layersDir, hexOf(diffId));
  }

  hasLayer(diffId: string): boolean {
    return existsSync(this.layerPath(diffId));
  }

  layerSize(diffId: string): number {
    return readJsonOr<{ size: number }>(`${this.layerPath(diffId)}.json`, { size: 0 }).size;
  }

  /** Unpacks a stored layer blob (gzip or plain tar) once; verifies its diff_id. */
  async unpackBlob(diffId: string, blobDigest: string): Promise<void> {
    if (this.hasLayer(diffId)) return;
    this.makeLayersDir();
    const tmp = this.tmpName(this.layersDir);
    mkdirSync(tmp, { mode: 0o755 });
    mark('layer-unpacking');
    try {
      // Loaded here: most commands that open the store never unpack (ps, images, inspect).
      const { unpackOffThread } = await import('./unpack-pool.js');
      const got = await unpackOffThread(this.blobPath(blobDigest), tmp);
      if (got.diffId !== diffId) throw new SkiffError(`layer ${blobDigest}: diff_id mismatch: config says ${diffId}, content is ${got.diffId}`);
      this.commitLayer(tmp, diffId, got.size);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(`${tmp}.json`, { force: true });
    }
  }

  /**
   * Stores a layer blob and unpacks it in one pass over `input` (a download):
   * the compressed bytes go to a temporary blob file and, at the same time,
   * through gunzip into a temporary layer directory. Only when the stream has
   * ended are the blob's digest and the layer's diff_id checked; then the
   * blob and the layer appear by rename, blob first. A mismatch, a hostile
   * entry or a kill leaves only temporaries (removed here, or swept by the
   * next store command), never a layer anything trusts.
   */
  async pullLayer(input: Readable, blobDigest: string, diffId: string, onBytes?: (n: number) => void): Promise<void> {
    mkdirSync(this.blobsDir, { recursive: true });
    this.makeLayersDir();
    const blobTmp = this.tmpName(this.blobsDir);
    const tmp = this.tmpName(this.layersDir);
    mkdirSync(tmp, { mode: 0o755 });
    mark('layer-unpacking');
    // Loaded here, as unpackBlob's pool is: most commands that open the store never unpack.
    const { unpackLayer } = await import('./unpack.js');
    const fd = openSync(blobTmp, 'wx');
    let fdOpen = true;
    const hash = createHash('sha256');
    // The unpacker reads `feed`. When it fails (a hostile entry, or garbage
    // from a corrupt download), the rest of the input is still hashed: a blob
    // that is not the one asked for is reported as a digest mismatch, whatever
    // it contained.
    const feed = new PassThrough();
    let unpackFailed = false;
    let resume: (() => void) | undefined;
    const wake = () => {
      resume?.();
      resume = undefined;
    };
    feed.on('drain', wake);
    const unpacking = unpackLayer(feed, tmp).then(
      (result) => ({ result }),
      (error: unknown) => {
        unpackFailed = true;
        wake();
        return { error };
      },
    );
    // The blob write in flight: the fd is closed only after it (a failed
    // pipeline does not wait for it, and a closed fd number gets reused).
    let writing: Promise<unknown> = Promise.resolve();
    const take = async (chunk: Buffer): Promise<void> => {
      hash.update(chunk);
      onBytes?.(chunk.length);
      streamedBytes(chunk.length);
      if (unpackFailed || feed.destroyed) return;
      // The file write and gunzip run at the same time, both off this thread.
      const w = writeAll(fd, chunk);
      writing = w.catch(() => {});
      if (!feed.write(chunk) && !unpackFailed) await new Promise<void>((r) => (resume = r));
      await w;
    };
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        take(chunk).then(() => cb(), cb);
      },
      final(cb) {
        feed.end();
        cb();
      },
    });
    try {
      try {
        await pipeline(input, sink);
      } catch (e) {
        feed.destroy(e as Error);
        await unpacking;
        throw e;
      }
      const unpacked = await unpacking;
      await writing;
      closeSync(fd);
      fdOpen = false;
      mark('blob-written');
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest !== blobDigest) throw new SkiffError(`digest mismatch: expected ${blobDigest}, got ${digest}`);
      if ('error' in unpacked) throw new UnpackError((unpacked.error as Error).message);
      const got = unpacked.result;
      if (got.diffId !== diffId) throw new UnpackError(`layer ${blobDigest}: diff_id mismatch: config says ${diffId}, content is ${got.diffId}`);
      renameSync(blobTmp, this.blobPath(digest));
      this.commitLayer(tmp, diffId, got.size);
    } finally {
      if (fdOpen) {
        await writing;
        closeSync(fd);
      }
      rmSync(blobTmp, { force: true });
      rmSync(tmp, { recursive: true, force: true });
      rmSync(`${tmp}.json`, { force: true });
    }
  }

  /**
   * The directory of unpacked layers, marked as a top of directory trees
   * (chattr +T, FS_TOPDIR_FL). ext4's Orlov allocator then gives each layer
   * it holds a block group of its own, as it does to the users in /home,
   * instead of the group next to its parent's. It matters where ext4 runs
   * without a journal, as on this project's VMs: there every new inode skips
   * past each inode of its group freed in the last minute, reading the inode
   * table for each (ext4's recently_deleted()), and a pull made after removing
   * images, or in the directory another pull just emptied, paid that for each
   * of its files (README, "Performance": the bench's pull took 1.3-1.6 s
   * instead of 1.0-1.1). Best effort: other file systems have no such flag.
   */
  private makeLayersDir(): void {
    mkdirSync(this.layersDir, { recursive: true });
    if (topDirsMarked.has(this.layersDir)) return;
    topDirsMarked.add(this.layersDir);
    let fd: number | undefined;
    try {
      fd = openSync(this.layersDir, constants.O_RDONLY | constants.O_DIRECTORY);
      const flags = inodeFlags(fd, this.layersDir);
      if (!(flags & FS_TOPDIR_FL)) setInodeFlags(fd, this.layersDir, flags | FS_TOPDIR_FL);
    } catch {
      // EOPNOTSUPP/ENOTTY (xfs, btrfs, tmpfs, overlay): nothing to spread
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Makes the verified layer in `tmp` the store's: its size record, then the directory. */
  private commitLayer(tmp: string, diffId: string, size: number): void {
    writeFileSync(`${tmp}.json`, JSON.stringify({ size }));
    renameSync(`${tmp}.json`, `${this.layerPath(diffId)}.json`);
    try {
      renameSync(tmp, this.layerPath(diffId));
    } catch (e) {
      // Another pull or load finished the same layer first: keep theirs.
      if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }

  // ---- images --------------------------------------------------------------

  /**
   * Records an image whose manifest, config and layer blobs are stored and
   * whose layers are unpacked. Returns the image ID (the config digest).
   */
  addImage(manifestBytes: Buffer, names: string[] = []): string {
    const manifest = parseManifest(manifestBytes);
    const config = parseConfig(this.readBlob(manifest.config.digest));
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new SkiffError(`manifest lists ${manifest.layers.length} layers, config expects ${config.rootfs.diff_ids.length}`);
    }
    for (const [i, l] of manifest.layers.entries()) {
      if (!this.hasBlob(l.digest)) throw new SkiffError(`layer blob ${l.digest} is not in the store`);
      if (!this.hasLayer(config.rootfs.diff_ids[i])) throw new SkiffError(`layer ${config.rootfs.diff_ids[i]} is not unpacked`);
    }
    const manifestDigest = this.putBlobBytes(manifestBytes);
    const id = manifest.config.digest;
    mkdirSync(this.imagesDir, { recursive: true });
    writeJsonAtomic(join(this.imagesDir, `${hexOf(id)}.json`), { manifest: manifestDigest });
    if (names.length) this.tag(id, names);
    return id;
  }

  /** Points names (repo:tag, or repo@digest) at an image. */
  tag(id: string, names: string[]): void {
    withLock('images', () => {
      const repos = this.repositories();
      for (const n of names) repos[n.includes('@') ? n : normalizeReference(n)] = id;
      mkdirSync(this.dir, { recursive: true });
      writeJsonAtomic(this.reposFile, repos);
    });
  }

  /** Removes names; returns the ones that existed. */
  untag(names: string[]): string[] {
    return withLock('images', () => {
      const repos = this.repositories();
      const removed = names.filter((n) => delete repos[n]);
      writeJsonAtomic(this.reposFile, repos);
      return removed;
    });
  }

  repositories(): Record<string, string> {
    return readJsonOr<Record<string, string>>(this.reposFile, {});
  }

  ids(): string[] {
    try {
      return readdirSync(this.imagesDir).filter((f) => /^[0-9a-f]{64}\.json$/.test(f)).map((f) => `sha256:${f.slice(0, 64)}`);
    } catch {
      return [];
    }
  }

  manifestDigest(id: string): string {
    return readJsonOr<{ manifest: string }>(join(this.imagesDir, `${hexOf(id)}.json`), { manifest: '' }).manifest;
  }

  /** The manifest that describes an image, as stored (its bytes are what push sends). */
  manifest(id: string): { digest: string; bytes: Buffer; manifest: ImageManifest } {
    const digest = this.manifestDigest(id);
    if (!digest) throw new SkiffError(`No such image: ${id}`);
    const bytes = this.readBlob(digest);
    return { digest, bytes, manifest: parseManifest(bytes) };
  }

  get(id: string): Image {
    const config = parseConfig(this.readBlob(id));
    const names = Object.entries(this.repositories()).filter(([, v]) => v === id).map(([k]) => k).sort();
    return { id, config, repoTags: names.filter((n) => !n.includes('@')), repoDigests: names.filter((n) => n.includes('@')) };
  }

  list(): Image[] {
    return this.ids().map((id) => this.get(id));
  }

  /** Finds an image by name[:tag], name@digest, full ID, or unique ID prefix. Throws "No such image". */
  resolve(ref: string): Image {
    const found = this.lookup(ref);
    if (!found) throw new SkiffError(`Unable to find image '${ref}' locally`);
    return found;
  }

  lookup(ref: string): Image | undefined {
    const repos = this.repositories();
    let name: string | undefined;
    try {
      name = ref.includes('@') ? ref : normalizeReference(ref);
    } catch {
      name = undefined;
    }
    if (name && repos[name] && existsSync(join(this.imagesDir, `${hexOf(repos[name])}.json`))) return this.get(repos[name]);
    const prefix = hexOf(ref);
    if (/^[0-9a-f]{4,64}$/.test(prefix)) {
      const hits = this.ids().filter((id) => hexOf(id).startsWith(prefix));
      if (hits.length > 1) throw new SkiffError(`image ID prefix '${ref}' is ambiguous`);
      if (hits.length === 1) return this.get(hits[0]);
    }
    return undefined;
  }

  /** Images the build cache keeps (intermediate steps): `images` hides them unless -a. */
  buildCacheIds(): Set<string> {
    return new Set(Object.values(readJsonOr<Record<string, string>>(join(this.dir, 'build-cache.json'), {})));
  }

  size(image: Image): number {
    return image.config.rootfs.diff_ids.reduce((n, d) => n + this.layerSize(d), 0);
  }

  created(image: Image): Date {
    const c = image.config.created ? new Date(image.config.created) : undefined;
    if (c && !Number.isNaN(c.getTime())) return c;
    return statSync(join(this.imagesDir, `${hexOf(image.id)}.json`)).mtime;
  }

  /** Deletes an image record and its names (callers check that no container uses it). */
  deleteImage(id: string): void {
    withLock('images', () => {
      const repos = this.repositories();
      for (const [k, v] of Object.entries(repos)) if (v === id) delete repos[k];
      writeJsonAtomic(this.reposFile, repos);
      rmSync(join(this.imagesDir, `${hexOf(id)}.json`), { force: true });
    });
  }

  /**
   * Removes blobs and unpacked layers that no image references any more.
   * `inUse` are diff_ids that containers still run on. Reports what went and the bytes freed.
   */
  /**
   * Removes what killed commands left: blob and layer temporaries
   * (.tmp-PID-…) and load's extraction dirs (tmp/load-PID-…) whose writer is
   * gone. Under the store's lock; cheap (three readdirs).
   */
  sweepTemporaries(): string[] {
    return withLock('images', () => [
      ...sweepStale(this.blobsDir, /^\.tmp-(\d+)-/),
      ...sweepStale(this.layersDir, /^\.tmp-(\d+)-/),
      ...sweepStale(paths.tmp(this.root), /^(?:load|build)-(\d+)-/),
    ]);
  }

  collectGarbage(inUse: Set<string> = new Set()): { blobs: string[]; layers: string[]; bytes: number } {
    this.sweepTemporaries();
    return withLock('images', () => {
      const keepBlobs = new Set<string>();
      const keepLayers = new Set<string>(inUse);
      for (const id of this.ids()) {
        try {
          const { digest, manifest } = this.manifest(id);
          keepBlobs.add(digest);
          keepBlobs.add(manifest.config.digest);
          manifest.layers.forEach((l) => keepBlobs.add(l.digest));
          parseConfig(this.readBlob(id)).rootfs.diff_ids.forEach((d) => keepLayers.add(d));
        } catch {
          // a broken record keeps nothing alive
        }
      }
      const blobs: string[] = [];
      const layers: string[] = [];
      let bytes = 0;
      for (const f of safeReaddir(this.blobsDir)) {
        if (/^[0-9a-f]{64}$/.test(f) && !keepBlobs.has(`sha256:${f}`)) {
          bytes += statSync(join(this.blobsDir, f)).size;
          rmSync(join(this.blobsDir, f), { force: true });
          blobs.push(`sha256:${f}`);
        }
      }
      for (const f of safeReaddir(this.layersDir)) {
        if (/^[0-9a-f]{64}$/.test(f) && !keepLayers.has(`sha256:${f}`)) {
          bytes += this.layerSize(`sha256:${f}`);
          rmSync(join(this.layersDir, f), { recursive: true, force: true });
          rmSync(join(this.layersDir, `${f}.json`), { force: true });
          layers.push(`sha256:${f}`);
        }
      }
      return { blobs, layers, bytes };
    });
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function parseConfig(bytes: Buffer): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw new SkiffError('image config is not valid JSON');
  }
  if (!config?.rootfs || !Array.isArray(config.rootfs.diff_ids)) throw new SkiffError('image config has no rootfs.diff_ids');
  return config;
}

export function parseManifest(bytes: Buffer): ImageManifest {
  let m: ImageManifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as ImageManifest;
  } catch {
    throw new SkiffError('manifest is not valid JSON');
  }
  if (m?.schemaVersion !== 2 || !m.config?.digest || !Array.isArray(m.layers)) throw new SkiffError('manifest is not a schema 2 image manifest');
  return m;
}

/** An OCI manifest for an image that came without one (docker-archive, commit, build). */
export function makeManifest(config: Descriptor, layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers }));
}

/** Writes all of `buf` at the file's current offset (a write may be short), on libuv's pool. */
function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (b: Buffer) => write(fd, b, 0, b.length, null, (err, n) => {
      if (err) reject(err);
      else if (n < b.length) next(b.subarray(n));
      else resolve();
    });
    next(buf);
  });
}
