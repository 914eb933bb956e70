// What COPY and ADD read: files of the build context (filtered by
// .dockerignore, never outside the context), or of another image or stage
// (COPY --from), seen through a read-only mount of its layers.
import dockerignore, { type Ignore } from '@balena/dockerignore';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { MNT_DETACH, MS, mount, umount2 } from '../../native-bindings/libc.js';
import { lowerDirs, mountOverlay } from '../container/rootfs.js';
import type { ImageStore } from '../image/store.js';
import { unpackLayer } from '../image/unpack.js';
import { SkiffError } from '../util/errors.js';
import { paths } from '../util/paths.js';
import { decompressed } from '../util/stream.js';

export interface SourceRoot {
  dir: string;
  /** null for image roots: .dockerignore applies to the build context only. */
  ignore: Ignore | null;
  /** How errors name this root ("build context", "image"). */
  label: string;
}

export function contextRoot(dir: string): SourceRoot {
  if (!existsSync(dir) || !lstatSync(dir).isDirectory()) throw new SkiffError(`unable to prepare context: path "${dir}" not found`);
  // A CommonJS module: under NodeNext its factory is the default export's `default`.
  const ig = dockerignore.default();
  const file = join(dir, '.dockerignore');
  if (existsSync(file)) ig.add(readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  return { dir: realpathSync(dir), ignore: ig, label: 'build context' };
}

/** Matches one path segment against a Go filepath.Match-style pattern (* ? [..]). */
function segmentMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(name);
}

/**
 * Resolves a COPY source (may hold wildcards in its last segment) to paths
 * relative to the root. Refuses anything that leaves the root, also through
 * a symlink.
 */
export function resolveSources(root: SourceRoot, src: string, instruction: string): string[] {
  const rel = posix.normalize(src.replace(/^\/+/, ''));
  if (rel === '..' || rel.startsWith('../')) throw new SkiffError(`${instruction} failed: forbidden path outside the ${root.label}: ${src}`);
  const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
  const base = posix.basename(rel);
  const candidates = /[*?[]/.test(base)
    ? safeList(join(root.dir, dir)).filter((n) => segmentMatch(base, n)).map((n) => (dir ? `${dir}/${n}` : n))
    : [rel === '.' ? '' : rel];
  const found = candidates.filter((c) => {
    const abs = join(root.dir, c);
    if (!existsSync(abs)) return false;
    const real = realpathSync(abs);
    if (real !== root.dir && !real.startsWith(`${root.dir}/`)) throw new SkiffError(`${instruction} failed: forbidden path outside the ${root.label}: ${src} (a symlink leads out)`);
    return !(c && root.ignore?.ignores(c));
  });
  if (found.length === 0) throw new SkiffError(`${instruction} failed: file not found in ${root.label} or excluded by .dockerignore: stat ${src}: file does not exist`);
  return found;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Every file under `rel` (itself if a file), relative to the root, minus ignored ones. */
export function walk(root: SourceRoot, rel: string): string[] {
  const abs = join(root.dir, rel);
  const st = lstatSync(abs);
  if (!st.isDirectory()) return [rel];
  const out: string[] = [rel];
  for (const n of safeList(abs)) {
    const child = rel ? `${rel}/${n}` : n;
    if (root.ignore?.ignores(child)) continue;
    out.push(...walk(root, child));
  }
  return out;
}

/** The build-cache part of a COPY: names, modes, owners and contents of everything copied. */
export function contentHash(root: SourceRoot, sources: string[]): string {
  const h = createHash('sha256');
  for (const s of sources) {
    for (const f of walk(root, s)) {
      const st = lstatSync(join(root.dir, f));
      h.update(`${f}\0${st.mode}\0${st.uid}:${st.gid}\0`);
      if (st.isFile()) h.update(readFileSync(join(root.dir, f)));
    }
  }
  return h.digest('hex');
}

/** Mounts an image's layers read-only somewhere private for the duration of `fn`. */
export async function withImageRootfs<T>(images: ImageStore, id: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  mkdirSync(paths.tmp(images.root), { recursive: true });
  const dir = mkdtempSync(join(paths.tmp(images.root), 'view-'));
  const lower = id ? lowerDirs(images, images.get(id).config.rootfs.diff_ids) : [];
  let mounted = false;
  try {
    if (lower.length === 1) {
      mount(lower[0], dir, null, MS.BIND);
      mount(null, dir, null, MS.BIND | MS.REMOUNT | MS.RDONLY);
      mounted = true;
    } else if (lower.length > 1) {
      // overlayfs without an upper dir is read-only.
      mountOverlay(dir, lower, undefined, undefined, MS.RDONLY);
      mounted = true;
    }
    return await fn(dir);
  } finally {
    if (mounted) umount2(dir, MNT_DETACH);
    rmdirSync(dir);
  }
}

/** The default cap on a build context sent over the Engine API, uncompressed (SKIFF_BUILD_CONTEXT_MAX overrides). */
export const MAX_CONTEXT_BYTES = 2 * 1024 ** 3;

/**
 * A build context that arrives as a tar (plain or gzip, as `docker build`
 * sends it): unpacked with the layer unpacker (no `..`, no writing through
 * its own symlinks) into a private temp dir, which `fn` builds from and which
 * is removed afterwards, whatever happens. More than `maxBytes` of
 * uncompressed tar is refused.
 */
export async function withContextArchive<T>(images: ImageStore, input: Readable, fn: (dir: string) => Promise<T>,
  maxBytes = Number(process.env.SKIFF_BUILD_CONTEXT_MAX) || MAX_CONTEXT_BYTES): Promise<T> {
  images.sweepTemporaries();
  mkdirSync(paths.tmp(images.root), { recursive: true });
  const dir = mkdtempSync(join(paths.tmp(images.root), `build-${process.pid}-`));
  try {
    let seen = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > maxBytes) return cb(new SkiffError(`the build context is larger than ${maxBytes} bytes; leave large files out with .dockerignore`));
        cb(null, chunk);
      },
      // docker 20.10's CLI, given a Dockerfile outside the context (-f), ends the tar right after the last
      // entry's data: no padding, no end-of-archive blocks (Go's reader, and so dockerd, takes that). Added here.
      flush(cb) {
        cb(null, Buffer.alloc((512 - (seen % 512)) % 512 + 1024));
      },
    });
    try {
      const source = await decompressed(input);
      source.once('error', (e) => limit.destroy(e)); // pipe() would not pass a client's disconnect on
      await unpackLayer(source.pipe(limit), dir);
    } catch (e) {
      input.resume(); // the rest of a refused body is read and dropped, so the answer can go out
      throw new SkiffError(`unable to read the build context: ${(e as Error).message.replace(/^layer /, '')}`);
    }
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
