// Unpacks one layer tar into a directory that overlayfs can use as a lowerdir.
//
// Two jobs beyond plain extraction:
// - Docker/OCI whiteouts become overlay whiteouts: `.wh.NAME` becomes a 0/0
//   character device NAME, and `.wh..wh..opq` becomes the xattr
//   trusted.overlay.opaque=y on its directory.
// - Hostile entries are refused: `..` escapes, writing through a symlink, and
//   hardlinks to targets outside the layer.
import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, link, lstatSync, lutimesSync, mkdir, mkdirSync, open,
  rmSync, symlink, writeSync,
} from 'node:fs';
import { posix } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { lsetxattr, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../../native-bindings/libc.js';
import { SkiffError } from '../util/errors.js';
import { gunzipStream, isGzip, isZstd, peek } from '../util/stream.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** What an entry name means once whiteouts are decoded. Pure; unit-tested. */
export type EntryAction =
  | { kind: 'opaque'; dir: string }
  | { kind: 'whiteout'; path: string }
  | { kind: 'entry'; path: string };

/** Normalizes a tar entry name to a relative path inside the layer, or throws. */
export function safeRelative(name: string): string {
  const norm = posix.normalize(name.replace(/^\/+/, ''));
  if (norm === '..' || norm.startsWith('../')) throw new SkiffError(`layer entry "${name}" escapes the layer directory`);
  return norm === '.' ? '' : norm.replace(/\/+$/, '');
}

export function classifyEntry(name: string): EntryAction {
  const rel = safeRelative(name);
  const base = posix.basename(rel);
  const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const target = base.slice(WHITEOUT_PREFIX.length);
    if (!target || target === '.' || target === '..') throw new SkiffError(`invalid whiteout entry "${name}"`);
    return { kind: 'whiteout', path: dir ? `${dir}/${target}` : target };
  }
  return { kind: 'entry', path: rel };
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream: the layer's diff_id. */
  diffId: string;
  /** Bytes of file content written. */
  size: number;
}

/** Streams a (possibly gzip-compressed) layer tar into `dest`, which must exist and be empty. */
export async function unpackLayer(input: Readable, dest: string): Promise<UnpackResult> {
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const writer = new LayerWriter(dest);
  extract.on('entry', (header, stream, next) => {
    writer.entry(header, stream as unknown as Readable).then(() => next(), (err) => next(err));
  });
  const head = await peek(input);
  if (head.length === 0) throw new SkiffError('layer is empty: not a tar archive');
  if (isZstd(head)) throw new SkiffError('zstd-compressed layers are not supported yet; re-export the image with gzip layers');
  // One pipeline: a failure anywhere (a hostile entry, a broken download) destroys every stage, the source included.
  try {
    if (isGzip(head)) await pipeline(input, gunzipStream(), hasher, extract);
    else await pipeline(input, hasher, extract);
  } finally {
    // Files still being created: the caller removes this directory on failure,
    // and nothing may be written into it after that.
    await writer.settleAll();
  }
  await writer.finish();
  return { diffId: `sha256:${hash.digest('hex')}`, size: writer.bytes };
}

class LayerWriter {
  bytes = 0;
  /** Directories whose mtime must be set last (writing into a dir changes it). */
  private dirTimes: Array<[string, Date]> = [];
  /** Relative directory paths known to be real directories (not symlinks). */
  private realDirs = new Set<string>(['']);
  /** Every relative path this layer has created (some may be gone since): a superset of what exists. */
  private created = new Set<string>();
  /** Small files being created while later entries are read, by relative path. */
  private pending = new Map<string, Promise<void>>();
  private pendingBytes = 0;
  private failure: Error | undefined;

  constructor(private root: string) {}

  private abs(rel: string): string {
    return rel ? `${this.root}/${rel}` : this.root;
  }

  /** Makes sure every parent of `rel` is a real directory inside the layer. */
  private ensureParents(rel: string, name: string): void {
    const parts = rel.split('/').slice(0, -1);
    let cur = '';
    for (const part of parts) {
      cur = cur ? `${cur}/${part}` : part;
      if (this.realDirs.has(cur)) continue;
      const st = this.created.has(cur) ? lstatSync(this.abs(cur), { throwIfNoEntry: false }) : undefined;
      if (!st) {
        mkdirSync(this.abs(cur), { mode: 0o755 });
        this.realDirs.add(cur);
        this.created.add(cur);
        continue;
      }
      if (st.isSymbolicLink()) throw new SkiffError(`layer entry "${name}" would be written through the symlink "/${cur}"`);
      if (!st.isDirectory()) throw new SkiffError(`layer entry "${name}": "/${cur}" is not a directory`);
      this.realDirs.add(cur);
    }
  }

  /** Removes whatever sits at `rel` unless both old and new are directories. */
  private clear(rel: string, newIsDir: boolean): void {
    // The layer directory starts empty, so only a path this layer created
    // can be there: most entries need no lstat (with its ENOENT) at all.
    if (!this.created.has(rel)) return;
    const st = lstatSync(this.abs(rel), { throwIfNoEntry: false });
    if (!st) return;
    if (newIsDir && st.isDirectory()) return;
    rmSync(this.abs(rel), { recursive: true, force: true });
    this.realDirs.delete(rel);
  }

  /**
   * Waits for the pending creations of REL and of its parents: an entry that
   * replaces, links to or writes below a path sees it as the tar left it.
   */
  private async settle(rel: string): Promise<void> {
    if (this.pending.size === 0) return;
    for (let i = rel.indexOf('/'); ; i = rel.indexOf('/', i + 1)) {
      const p = this.pending.get(i < 0 ? rel : rel.slice(0, i));
      if (p) await p;
      if (i < 0) break;
    }
  }

  /** Waits for every pending creation; the first one that failed is thrown by finish(). */
  async settleAll(): Promise<void> {
    while (this.pending.size) await Promise.all(this.pending.values());
  }

  async entry(h: tar.Header, stream: Readable): Promise<void> {
    if (this.failure) throw this.failure;
    const action = classifyEntry(h.name);
    if (action.kind !== 'opaque') await this.settle(action.path);
    else if (action.dir) await this.settle(action.dir);
    if (h.type === 'link') await this.settle(safeRelative(h.linkname ?? ''));
    if (action.kind === 'opaque') {
      if (action.dir) this.ensureParents(`${action.dir}/x`, h.name);
      lsetxattr(this.abs(action.dir), 'trusted.overlay.opaque', Buffer.from('y'));
      return drain(stream);
    }
    if (action.kind === 'whiteout') {
      this.ensureParents(action.path, h.name);
      this.clear(action.path, false);
      this.created.add(action.path);
      mknod(this.abs(action.path), S_IFCHR | 0o000, makedev(0, 0));
      return drain(stream);
    }
    const rel = action.path;
    if (rel === '') return drain(stream); // the layer root itself
    this.ensureParents(rel, h.name);
    const path = this.abs(rel);
    const mode = (h.mode ?? 0o644) & 0o7777;
    this.clear(rel, h.type === 'directory');
    this.created.add(rel);
    switch (h.type) {
      case 'directory':
        await createDir(path);
        this.realDirs.add(rel);
        break;
      case 'file':
      case 'contiguous-file': {
        if ((h.size ?? 0) <= SMALL_FILE) return this.createSmallFile(rel, path, h, mode, await readAll(stream));
        const fd = await createFile(path);
        try {
          for await (const chunk of stream) {
            writeSync(fd, chunk as Buffer);
            this.bytes += (chunk as Buffer).length;
          }
          // Metadata through the open descriptor: no more path lookups.
          // chown clears setuid/setgid bits, so the mode goes on after it.
          fchownSync(fd, h.uid ?? 0, h.gid ?? 0);
          fchmodSync(fd, mode);
          const mtime = h.mtime ?? new Date(0);
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
        this.setXattrs(path, h);
        return;
      }
      case 'symlink':
        await drain(stream);
        return this.later(rel, 0, async () => {
          await createSymlink(h.linkname ?? '', path);
          lchownSync(path, h.uid ?? 0, h.gid ?? 0);
          this.setXattrs(path, h);
          const mtime = h.mtime ?? new Date(0);
          lutimesSync(path, mtime, mtime);
        });
      case 'link': {
        const target = safeRelative(h.linkname ?? '');
        this.ensureParents(target, h.linkname ?? '');
        const st = lstatSync(this.abs(target), { throwIfNoEntry: false });
        if (!st) throw new SkiffError(`layer entry "${h.name}" links to missing "${h.linkname}"`);
        if (st.isDirectory()) throw new SkiffError(`layer entry "${h.name}" is a hardlink to a directory`);
        await createLink(this.abs(target), path);
        return drain(stream); // a hardlink shares the target's metadata
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const type = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        mknod(path, type | mode, makedev(h.devmajor ?? 0, h.devminor ?? 0));
        break;
      }
      default:
        return drain(stream); // pax globals and unknown types carry nothing to write
    }
    await drain(stream);
    lchownSync(path, h.uid ?? 0, h.gid ?? 0);
    // chown clears setuid/setgid bits, so the mode goes on after it.
    chmodSync(path, mode);
    this.setXattrs(path, h);
    const mtime = h.mtime ?? new Date(0);
    if (h.type === 'directory') this.dirTimes.push([path, mtime]);
    else lutimesSync(path, mtime, mtime);
  }

  /** A small file, read whole, is created while the next entries are read (see later). */
  private createSmallFile(rel: string, path: string, h: tar.Header, mode: number, content: Buffer[]): Promise<void> {
    const size = content.reduce((n, b) => n + b.length, 0);
    this.bytes += size;
    return this.later(rel, size, async () => {
      const fd = await createFile(path);
      try {
        for (const b of content) writeSync(fd, b);
        fchownSync(fd, h.uid ?? 0, h.gid ?? 0);
        fchmodSync(fd, mode); // after chown, which clears setuid/setgid
        const mtime = h.mtime ?? new Date(0);
        futimesSync(fd, mtime, mtime);
      } finally {
        closeSync(fd);
      }
      this.setXattrs(path, h);
    });
  }

  /**
   * Runs CREATE (the making of REL, holding SIZE bytes) while the next
   * entries are read: creating an inode is the slow part (see createFile),
   * and only an entry that touches the same path, or a path below it, waits
   * for it (settle). A failure is thrown at the next entry or by finish().
   */
  private async later(rel: string, size: number, create: () => Promise<void>): Promise<void> {
    const task: Promise<void> = create()
      .catch((e: Error) => {
        this.failure ??= e;
      })
      .finally(() => {
        if (this.pending.get(rel) === task) this.pending.delete(rel);
        this.pendingBytes -= size;
      });
    this.pending.set(rel, task);
    this.pendingBytes += size;
    // Bounded, in entries and in bytes held.
    while (this.pending.size >= MAX_PENDING || this.pendingBytes > MAX_PENDING_BYTES) await Promise.race(this.pending.values());
  }

  private setXattrs(path: string, h: tar.Header): void {
    for (const [key, value] of Object.entries((h.pax ?? {}) as Record<string, string>)) {
      if (key.startsWith('SCHILY.xattr.')) lsetxattr(path, key.slice('SCHILY.xattr.'.length), Buffer.from(value, 'binary'));
    }
  }

  /** After the last entry: the pending files, then the directories' times (creating entries changed them). */
  async finish(): Promise<void> {
    await this.settleAll();
    if (this.failure) throw this.failure;
    for (const [path, time] of this.dirTimes.reverse()) lutimesSync(path, time, time);
  }
}

const SMALL_FILE = 1024 * 1024;
const MAX_PENDING = 32;
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks;
}

// Creating an inode is the slow part of unpacking (0.35-0.5 ms each on this
// project's ext4 VMs, serialized in the kernel within a directory: more
// threads there only spin). On libuv's pool it leaves this thread free to
// hash, gunzip and parse the layers that download at the same time, and the
// entries after a small file (later). The rest (writes, chown, chmod, utimes
// on the fd) takes microseconds and stays synchronous.
const done = <T>(resolve: (v: T) => void, reject: (e: Error) => void) => (err: Error | null, v?: T) => (err ? reject(err) : resolve(v as T));
const createFile = (path: string) => new Promise<number>((res, rej) => open(path, 'wx', 0o600, done(res, rej)));
const createDir = (path: string) => new Promise<unknown>((res, rej) => mkdir(path, { recursive: true, mode: 0o700 }, done(res, rej)));
const createSymlink = (target: string, path: string) => new Promise<void>((res, rej) => symlink(target, path, done(res, rej)));
const createLink = (existing: string, path: string) => new Promise<void>((res, rej) => link(existing, path, done(res, rej)));

async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) { /* discard */ }
}
