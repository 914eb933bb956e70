// What COPY and ADD read: files of the build context (filtered by
// .dockerignore, never outside the context), or of another image or stage
// (COPY --from), seen through a read-only mount of its layers.
import dockerignore, { type Ignore } from '@balena/dockerignore';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { MNT_DETACH, MS, mount, umount2 } from '../../native-bindings/libc.js';
import { lowerDirs } from '../container/rootfs.js';
import type { ImageStore } from '../image/store.js';
import { SkiffError } from '../util/errors.js';
import { paths } from '../util/paths.js';

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
      mount('overlay', dir, 'overlay', MS.RDONLY, `lowerdir=${lower.join(':')}`);
      mounted = true;
    }
    return await fn(dir);
  } finally {
    if (mounted) umount2(dir, MNT_DETACH);
    rmdirSync(dir);
  }
}
