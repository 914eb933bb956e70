// `docker cp CONTAINER:PATH ...`: a path of a container's filesystem as a tar
// stream. A running container's files are read through /proc/PID/root, a
// stopped one's through a private mount of its overlay; the path itself is
// resolved inside the container's root (symlinks followed as the container
// would, never onto the host). Symlinks inside the copied tree are archived
// as links, not followed; /proc, /sys and /dev are not walked into. Used by
// the Engine API (GET /containers/{id}/archive) and `skiff cp`.
import { createReadStream, lstatSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import * as tar from 'tar-stream';
import { secureJoin } from '../sandbox/securejoin.js';
import { SkiffError } from '../util/errors.js';
import { CopyError, withContainerRootfs } from './copy-in.js';
import type { ContainerRecord } from './model.js';

const KERNEL_FS = /^\/(proc|sys|dev)(\/|$)/;

/** A path found in a container: where the host sees it, and its lstat (stat with `follow`). */
export interface FoundPath {
  /** The container's root as the host sees it. */
  root: string;
  /** The path as the host sees it. */
  host: string;
  /** The path inside the container, absolute and normalized. */
  inside: string;
  st: Stats;
}

/** A missing path: Docker answers 404 "Could not find the file PATH in container ID". */
export class NotFoundInContainer extends CopyError {}

/** Runs `fn` with the container's root as the host sees it: /proc/PID/root while it runs, else its overlay mounted for the while. */
export function withRoot<T>(rec: ContainerRecord, fn: (root: string) => Promise<T>): Promise<T> {
  if (rec.State.Running) return fn(`/proc/${rec.State.Pid}/root`);
  return withContainerRootfs(rec, fn);
}

/**
 * Finds PATH inside the container whose root the host sees at ROOT. Every
 * component but the last is resolved as the container would; a final symlink
 * is the link itself, unless `follow` (cp -L), as in Docker.
 */
export function findInContainer(root: string, path: string, follow = false): FoundPath {
  const inside = posix.resolve('/', path);
  if (KERNEL_FS.test(inside)) throw new CopyError(`copying from ${inside} is not supported`);
  try {
    let host = inside === '/' ? root : posix.join(secureJoin(root, posix.dirname(inside), KERNEL_FS), posix.basename(inside));
    let st = lstatFound(host, path);
    if (follow && st.isSymbolicLink()) {
      host = secureJoin(root, inside, KERNEL_FS);
      st = lstatFound(host, path);
    }
    return { root, host, inside, st };
  } catch (e) {
    if (e instanceof CopyError) throw e;
    throw new CopyError((e as Error).message); // secureJoin: a link into /proc, or a loop
  }
}

function lstatFound(host: string, shown: string): Stats {
  try {
    return lstatSync(host);
  } catch {
    throw new NotFoundInContainer(`Could not find the file ${shown} in container`);
  }
}

export interface PackOptions {
  /** The name of the top entry in the archive (default: the path's base name). */
  name?: string;
  /** The owner recorded for every entry (default: the file's own). */
  owner?: (st: Stats) => { uid: number; gid: number };
}

/**
 * Writes the tree at FOUND into PACK (finalized at the end, destroyed on an
 * error). ROOT's /proc, /sys and /dev are not walked into; devices, sockets
 * and fifos are left out.
 */
export async function packTree(found: Pick<FoundPath, 'root' | 'host' | 'inside' | 'st'>, pack: tar.Pack, opts: PackOptions = {}): Promise<void> {
  const put = (h: Parameters<tar.Pack['entry']>[0], file?: string) => new Promise<void>((done, fail) => {
    if (pack.destroyed) return fail(new Error('the reader went away'));
    if (!file) return void pack.entry(h, (e) => (e ? fail(e) : done()));
    const sink = pack.entry(h, (e) => (e ? fail(e) : done()));
    (sink as unknown as NodeJS.EventEmitter).on('error', fail);
    createReadStream(file).on('error', fail).pipe(sink as unknown as NodeJS.WritableStream);
  });
  const walk = async (abs: string, name: string, s: Stats): Promise<void> => {
    const h = { name, mode: s.mode & 0o7777, mtime: s.mtime, ...(opts.owner ? opts.owner(s) : { uid: s.uid, gid: s.gid }) };
    if (s.isSymbolicLink()) return put({ ...h, type: 'symlink', linkname: readlinkSync(abs) });
    if (s.isFile()) return put({ ...h, type: 'file', size: s.size }, abs);
    if (!s.isDirectory()) return;
    await put({ ...h, type: 'directory' });
    const here = abs.slice(found.root.length) || '/';
    if (found.root && KERNEL_FS.test(here)) return;
    for (const e of readdirSync(abs).sort()) {
      try {
        await walk(posix.join(abs, e), posix.join(name, e), lstatSync(posix.join(abs, e)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // removed meanwhile
      }
    }
  };
  try {
    await walk(found.host, opts.name ?? (posix.basename(found.inside) || '.'), found.st);
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    throw e;
  }
}

/** A host path to pack (`skiff cp HOST_PATH CONTAINER:...`); `follow`: a final symlink is followed (cp -L). */
export function findOnHost(path: string, follow = false): FoundPath {
  const host = posix.resolve(path);
  let st: Stats;
  try {
    st = follow ? statSync(host) : lstatSync(host);
  } catch {
    throw new SkiffError(`stat ${path}: no such file or directory`);
  }
  return { root: '', host, inside: host, st };
}
