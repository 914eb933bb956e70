// `skiff cp`: Docker's rules for where a copy lands, between the host and a
// container, running or stopped. The bytes move as a tar: packed by
// copy-out.ts (from the container, or from the host) and extracted by
// copy-in.ts (into the container, or onto the host), so both directions
// resolve paths and refuse hostile archives the same way.
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import * as tar from 'tar-stream';
import { SkiffError } from '../util/errors.js';
import { CopyError, copyIntoContainer, extractInRoot } from './copy-in.js';
import { findInContainer, findOnHost, NotFoundInContainer, packTree, withRoot, type FoundPath, type PackOptions } from './copy-out.js';
import type { ContainerRecord, UsernsMap } from './model.js';

export interface CpOptions {
  /** -a: keep the files' uid/gid (else the copy belongs to the destination's root, or to the user running skiff on the host). */
  archive?: boolean;
  /** -L: a symlink given as the source is followed. */
  followLink?: boolean;
}

/** A path as `cp` reads it: "DIR/." means DIR's contents; a trailing "/" means "must be a directory". */
export interface CpPath {
  path: string;
  contents: boolean;
  mustBeDir: boolean;
}

export function cpPath(p: string): CpPath {
  const contents = p === '.' || p.endsWith('/.');
  return { path: posix.normalize(p).replace(/(.)\/+$/, '$1'), contents, mustBeDir: contents || p.endsWith('/') };
}

/** What is at the destination, links followed. */
export type DestState = { exists: false } | { exists: true; isDir: boolean };

/**
 * Where a copy of SRC lands (Docker's `cp` rules): the existing directory
 * to extract into, and the name of the copy's top entry in it ('.': SRC's
 * contents go straight into that directory). Pure; unit-tested.
 */
export function landing(src: { isDir: boolean; contents: boolean; base: string }, dest: CpPath, state: DestState): { dir: string; name: string } {
  if (src.contents && !src.isDir) throw new CopyError('source is not a directory');
  if (!state.exists) {
    if (dest.mustBeDir && !src.isDir) throw new CopyError(`destination directory ${dest.path} does not exist`);
    return { dir: posix.dirname(dest.path), name: posix.basename(dest.path) };
  }
  if (!state.isDir) {
    if (src.isDir) throw new CopyError(`cannot copy a directory to a file: ${dest.path}`);
    if (dest.mustBeDir) throw new CopyError(`destination ${dest.path} is not a directory`);
    return { dir: posix.dirname(dest.path), name: posix.basename(dest.path) };
  }
  return { dir: dest.path, name: src.contents ? '.' : src.base };
}

/** The ids a file of the container has as the container sees them (its user namespace shifts them on the host). */
function containerIds(st: { uid: number; gid: number }, map: UsernsMap | null): { uid: number; gid: number } {
  if (!map) return { uid: st.uid, gid: st.gid };
  const back = (id: number) => (id >= map.hostId && id < map.hostId + map.size ? id - map.hostId : id);
  return { uid: back(st.uid), gid: back(st.gid) };
}

/**
 * Packs FOUND into a tar that EXTRACT reads, both at once; a failure of
 * either stops both. Returns the tar's size (what Docker reports as copied).
 */
async function transfer(found: FoundPath, packOpts: PackOptions, extract: (input: Readable) => Promise<void>): Promise<number> {
  const pack = tar.pack();
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  pack.pipe(meter);
  const stop = (e: unknown) => {
    pack.destroy(e as Error);
    meter.destroy(e as Error);
    throw e;
  };
  await Promise.all([packTree(found, pack, packOpts).catch(stop), extract(meter).catch(stop)]);
  return bytes;
}

/** `skiff cp HOST_PATH CONTAINER:DEST`; returns the tar's size. */
export async function copyToContainer(rec: ContainerRecord, source: string, destination: string, opts: CpOptions = {}): Promise<number> {
  const src = cpPath(source);
  const found = findOnHost(src.path, opts.followLink);
  const dest = { ...cpPath(destination), path: posix.resolve('/', destination) };
  const state = await withRoot(rec, async (root): Promise<DestState> => {
    try {
      const d = findInContainer(root, dest.path, true);
      return { exists: true, isDir: d.st.isDirectory() };
    } catch (e) {
      if (e instanceof NotFoundInContainer) return { exists: false };
      throw e;
    }
  });
  const where = landing({ isDir: found.st.isDirectory(), contents: src.contents, base: posix.basename(found.host) }, dest, state);
  // Without -a the copy belongs to the container's root (its user namespace maps it), as in Docker.
  const owner = opts.archive ? undefined : () => ({ uid: 0, gid: 0 });
  return transfer(found, { name: where.name, owner }, (input) => copyIntoContainer(rec, where.dir, input, { noOverwriteDirNonDir: true }));
}

/** `skiff cp CONTAINER:SRC HOST_PATH`; returns the tar's size. */
export async function copyFromContainer(rec: ContainerRecord, source: string, destination: string, opts: CpOptions = {}): Promise<number> {
  const src = cpPath(source);
  const dest = { ...cpPath(destination), path: posix.resolve(destination) };
  let state: DestState = { exists: false };
  try {
    state = { exists: true, isDir: statSync(dest.path).isDirectory() };
  } catch {
    // a new name
  }
  return withRoot(rec, async (root) => {
    const found: FoundPath = findInContainer(root, src.path, opts.followLink);
    const where = landing({ isDir: found.st.isDirectory(), contents: src.contents, base: posix.basename(found.inside) || '/' }, dest, state);
    try {
      if (!statSync(where.dir).isDirectory()) throw new Error(); // a link to a directory will do, as for cp(1)
    } catch {
      throw new SkiffError(`destination directory ${where.dir} does not exist`);
    }
    // Without -a the copy belongs to whoever runs skiff, as a `cp` by them would.
    const owner = opts.archive ? (st: { uid: number; gid: number }) => containerIds(st, rec.Skiff.Userns) : () => ({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
    // The archive is skiff's own walk of the container's tree: it never holds an entry below one of its symlinks.
    return transfer(found, { name: where.name, owner }, (input) => extractInRoot('/', where.dir.slice(1), input, { shown: where.dir, noOverwriteDirNonDir: true }));
  });
}

/** `skiff cp - CONTAINER:DEST`: a tar on stdin, extracted into the directory DEST. */
export function extractToContainer(rec: ContainerRecord, input: Readable, destination: string): Promise<void> {
  return copyIntoContainer(rec, destination, input, { noOverwriteDirNonDir: true });
}

/** `skiff cp CONTAINER:SRC -`: SRC as a tar on OUT. */
export function archiveFromContainer(rec: ContainerRecord, source: string, out: NodeJS.WritableStream, opts: CpOptions = {}): Promise<void> {
  return withRoot(rec, async (root) => {
    const src = cpPath(source);
    const found = findInContainer(root, src.path, opts.followLink);
    const pack = tar.pack();
    const done = new Promise<void>((resolve, reject) => {
      out.on('error', reject);
      pack.on('end', resolve);
    });
    pack.pipe(out as NodeJS.WritableStream);
    await packTree(found, pack, { name: src.contents ? '.' : undefined });
    await done;
  });
}
