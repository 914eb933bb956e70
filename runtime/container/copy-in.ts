// `docker cp SRC CONTAINER:PATH`: a tar extracted into a container's root
// filesystem, running or stopped, through its overlay (the merged view the
// host mounts for a running container, a private mount of the same upper dir
// for a stopped one), or into the volume or bind mount that holds PATH.
//
// The container may hold symlinks (its own, or planted by a process racing
// the copy), so nothing here resolves a path from the host: every parent
// directory is opened with openat2(RESOLVE_IN_ROOT), which resolves even
// absolute symlinks and ".." inside the root, and each entry is then created
// by name in that directory (O_EXCL|O_NOFOLLOW, lchown, ...), never followed.
// The merged view has no /proc or /sys under it, so a symlink into the
// container's /proc leads nowhere on the host either.
import {
  closeSync, constants, fchmodSync, fchownSync, futimesSync, linkSync, lchownSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, openSync,
  rmdirSync, symlinkSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { MNT_DETACH, mknod, openInRoot, S_IFIFO, SyscallError, umount2 } from '../../native-bindings/libc.js';
import { ImageStore } from '../image/store.js';
import { safeRelative } from '../image/unpack.js';
import { SkiffError } from '../util/errors.js';
import { tryAcquire } from '../util/lock.js';
import { paths } from '../util/paths.js';
import { decompressed } from '../util/stream.js';
import { refresh } from './lifecycle.js';
import type { ContainerRecord, UsernsMap } from './model.js';
import { isMounted, lowerDirs, mountOverlay, rootfsDirs, rootfsLock } from './rootfs.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL } = constants;

/** A copy that cannot be done as asked: Docker answers these with 400. */
export class CopyError extends SkiffError {}

interface MountLike { Type?: string; Source?: string; Destination?: string; RW?: boolean }

/**
 * Runs `fn` with a host directory that is the container's root filesystem:
 * the merged overlay of a running container, or for a stopped one the same
 * layers and upper dir mounted privately for the duration.
 */
export async function withContainerRootfs<T>(rec: ContainerRecord, fn: (root: string) => Promise<T>): Promise<T> {
  rec = refresh(rec);
  const d = rootfsDirs(rec.Id);
  if (rec.State.Running) {
    // A second overlay on a live upper dir is undefined behaviour: only ever the container's own.
    if (!isMounted(d.merged)) throw new SkiffError(`container ${rec.Name.slice(1)}: its root filesystem is not mounted at ${d.merged}`);
    return fn(d.merged);
  }
  // Never blocks: this runs on the service's event loop. A start holds the
  // lock only while it mounts, so a refusal here is brief and rare.
  const lock = tryAcquire(rootfsLock(rec.Id));
  if (lock === undefined) throw new SkiffError(`Conflict: container ${rec.Name.slice(1)} is starting; try again once it runs`);
  try {
    // Mounted since the refresh: a start won the race. Its overlay is the one to use.
    if (isMounted(d.merged)) return await fn(d.merged);
    const images = new ImageStore();
    mkdirSync(paths.tmp(images.root), { recursive: true });
    const dir = mkdtempSync(join(paths.tmp(images.root), 'cp-'));
    try {
      mountOverlay(dir, lowerDirs(images, images.get(rec.Image).config.rootfs.diff_ids), d.upper, d.work);
      try {
        return await fn(dir);
      } finally {
        umount2(dir, MNT_DETACH);
      }
    } finally {
      rmdirSync(dir);
    }
  } finally {
    closeSync(lock);
  }
}

/** The volume or bind mount that holds `inside` (the deepest), with the path below it; else the rootfs. */
export function mountFor(rec: ContainerRecord, inside: string): { source?: string; rest: string; readOnly: boolean } {
  let best: { source: string; rest: string; depth: number; readOnly: boolean } | undefined;
  for (const m of (rec.Mounts ?? []) as MountLike[]) {
    if (!m.Source || !m.Destination || !['volume', 'bind'].includes(m.Type ?? '')) continue;
    const dest = posix.resolve('/', m.Destination);
    if (inside !== dest && !inside.startsWith(`${dest === '/' ? '' : dest}/`)) continue;
    if (!best || dest.length > best.depth) best = { source: m.Source, rest: posix.relative(dest, inside), depth: dest.length, readOnly: m.RW === false };
  }
  if (best) return { source: best.source, rest: best.rest, readOnly: best.readOnly };
  return { rest: inside.replace(/^\/+/, ''), readOnly: !!rec.HostConfig.ReadonlyRootfs };
}

export interface CopyInOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (what `docker cp` asks). */
  noOverwriteDirNonDir?: boolean;
}

/** Extracts a tar (plain or gzip) into PATH inside the container, which must be a directory. */
export async function copyIntoContainer(rec: ContainerRecord, path: string, input: Readable, opts: CopyInOptions = {}): Promise<void> {
  const inside = posix.resolve('/', path);
  const where = mountFor(rec, inside);
  // The host writes here as root, past the container's read-only mounts: Docker refuses these (400),
  // a tmpfs on a --read-only rootfs included (its mount is not a volume).
  const readOnly = !where.readOnly ? undefined : where.source ? 'mounted volume is marked read-only' : 'container rootfs is marked read-only';
  const run = (root: string) => extractInRoot(root, where.rest, input, { ...opts, userns: rec.Skiff.Userns, shown: path, readOnly });
  if (where.source) return run(where.source);
  return withContainerRootfs(rec, run);
}

interface ExtractOptions extends CopyInOptions {
  userns?: UsernsMap | null;
  shown: string;
  /** Why nothing may be written (after the checks Docker makes first: the path exists and is a directory). */
  readOnly?: string;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e instanceof SyscallError ? e.code : undefined);

/** `dest` (relative to `root`) must be a directory; entries land below it and never outside `root`. */
export async function extractInRoot(root: string, dest: string, input: Readable, opts: ExtractOptions): Promise<void> {
  const rootFd = openSync(root, O_RDONLY | O_DIRECTORY);
  const dirTimes: Array<[string, Date]> = [];
  try {
    let destFd: number;
    try {
      destFd = openInRoot(rootFd, dest || '.', O_RDONLY | O_DIRECTORY);
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT') throw new SkiffError(`Could not find the file ${opts.shown} in container`);
      if (code === 'ENOTDIR') throw new CopyError(`extraction point is not a directory: ${opts.shown}`);
      throw e;
    }
    closeSync(destFd);
    if (opts.readOnly) throw new CopyError(opts.readOnly);
    // An id past the container's map would be written as that very host id (0 to 65535 past it
    // are real host users): refused, as Docker does, rather than squashed to the overflow id,
    // which would silently change the owner the archive asked for.
    const shift = (id: number | undefined) => {
      if (!opts.userns) return id ?? 0;
      if ((id ?? 0) >= opts.userns.size) throw new CopyError(`Container ID ${id} cannot be mapped to a host ID`);
      return (id ?? 0) + opts.userns.hostId;
    };
    const extract = tar.extract();
    extract.on('entry', (h, stream, next) => {
      writeEntry(rootFd, dest, h, stream as unknown as Readable, opts, shift, dirTimes).then(() => next(), (e: Error) => {
        // What the container's tree refuses (a parent that is a file or a dangling link, a link across mounts): the client's to fix.
        const code = errno(e);
        // ENOTEMPTY: a non-directory over a directory with files in it (Docker would remove the whole tree).
        if (code && ['ENOTDIR', 'ELOOP', 'EEXIST', 'EXDEV', 'ENOENT', 'EISDIR', 'EROFS', 'ENOTEMPTY'].includes(code)) {
          const why = code === 'ENOTDIR' || code === 'ELOOP' ? 'a parent is not a directory' : code === 'ENOTEMPTY' ? 'it would replace a directory that is not empty' : code;
          return next(new CopyError(`cannot extract "${h.name}" into ${opts.shown}: ${why}`));
        }
        next(e);
      });
    });
    try {
      await pipeline(await decompressed(input), extract);
    } catch (e) {
      if (e instanceof SkiffError || errno(e)) throw e;
      throw new CopyError(`invalid tar archive: ${(e as Error).message}`); // tar-stream's parse errors
    }
    // Last: writing into a directory changes its mtime.
    for (const [rel, time] of dirTimes.reverse()) {
      const fd = openInRoot(rootFd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        futimesSync(fd, time, time);
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    closeSync(rootFd);
  }
}

/** Opens (creating as needed, 0755 root) the directory `rel` inside the root. */
function openDir(rootFd: number, rel: string, uid: number): number {
  try {
    return openInRoot(rootFd, rel || '.', O_RDONLY | O_DIRECTORY);
  } catch (e) {
    if (errno(e) !== 'ENOENT' || !rel) throw e;
  }
  const parent = openDir(rootFd, posix.dirname(rel) === '.' ? '' : posix.dirname(rel), uid);
  try {
    const at = `/proc/self/fd/${parent}/${posix.basename(rel)}`;
    try {
      mkdirSync(at, 0o755);
      lchownSync(at, uid, uid);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
    return openInRoot(parent, posix.basename(rel), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } finally {
    closeSync(parent);
  }
}

async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) { /* discard */ }
}

async function writeEntry(rootFd: number, dest: string, h: tar.Header, stream: Readable, opts: ExtractOptions,
  shift: (id: number | undefined) => number, dirTimes: Array<[string, Date]>): Promise<void> {
  let rel: string;
  try {
    rel = safeRelative(h.name);
  } catch {
    throw new CopyError(`archive entry "${h.name}" is outside of the destination ${opts.shown}`);
  }
  const full = posix.join(dest || '.', rel);
  if (rel === '' || !['file', 'contiguous-file', 'directory', 'symlink', 'link', 'fifo'].includes(h.type ?? 'file')) return drain(stream);
  const uid = shift(h.uid);
  const gid = shift(h.gid);
  const mode = (h.mode ?? 0o644) & 0o7777;
  const mtime = h.mtime ?? new Date();
  const parent = openDir(rootFd, posix.dirname(full) === '.' ? '' : posix.dirname(full), shift(0));
  try {
    const at = `/proc/self/fd/${parent}/${posix.basename(full)}`;
    let existing: Stats | undefined;
    try {
      existing = lstatSync(at);
    } catch {
      existing = undefined;
    }
    const isDir = h.type === 'directory';
    if (existing && existing.isDirectory() !== isDir) {
      if (opts.noOverwriteDirNonDir) {
        throw new CopyError(isDir ? `cannot overwrite non-directory "/${full}" with directory "${h.name}"` : `cannot overwrite directory "/${full}" with non-directory "${h.name}"`);
      }
      // Only an empty directory goes: emptying one by path could be redirected by the container.
      if (existing.isDirectory()) rmdirSync(at);
      else unlinkSync(at);
      existing = undefined; // gone: a directory entry must now make its directory
    } else if (existing && !isDir) {
      unlinkSync(at);
    }
    switch (h.type) {
      case 'directory': {
        if (!existing) mkdirSync(at, 0o700);
        const fd = openInRoot(parent, posix.basename(full), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        try {
          fchownSync(fd, uid, gid);
          fchmodSync(fd, mode);
        } finally {
          closeSync(fd);
        }
        dirTimes.push([full, mtime]);
        return drain(stream);
      }
      case 'symlink':
        symlinkSync(h.linkname ?? '', at);
        lchownSync(at, uid, gid);
        lutimesSync(at, mtime, mtime);
        return drain(stream);
      case 'link': {
        let target: string;
        try {
          target = posix.join(dest || '.', safeRelative(h.linkname ?? ''));
        } catch {
          throw new CopyError(`archive entry "${h.name}" links outside of the destination: ${h.linkname}`);
        }
        const tparent = openInRoot(rootFd, posix.dirname(target), O_RDONLY | O_DIRECTORY);
        try {
          // link(2) does not follow a symlink at the target: the link is to what is inside.
          linkSync(`/proc/self/fd/${tparent}/${posix.basename(target)}`, at);
        } finally {
          closeSync(tparent);
        }
        return drain(stream);
      }
      case 'fifo': {
        mknod(at, S_IFIFO | mode);
        lchownSync(at, uid, gid);
        return drain(stream);
      }
      default: {
        const fd = openSync(at, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of stream) writeSync(fd, chunk as Buffer);
          // chown clears setuid/setgid bits, so the mode goes on after it.
          fchownSync(fd, uid, gid);
          fchmodSync(fd, mode);
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
      }
    }
  } finally {
    closeSync(parent);
  }
}
