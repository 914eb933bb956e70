// Resolves a path inside a container's rootfs the way the kernel would after
// pivot_root, but from the host: every symlink is followed relative to the
// rootfs, and ".." never climbs above it. Without this, an image with
// /etc/hosts -> /etc/shadow (or /data -> /etc) could make skiff bind-mount or
// write onto the host's files.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

const MAX_LINKS = 40; // the kernel's MAXSYMLINKS

/**
 * `forbid`, if given, is tested on the in-container path of every symlink
 * before it is read, so a walk never reads links inside, say, /proc from the
 * host (where /proc/self means this process); a match throws.
 */
export function secureJoin(root: string, unsafe: string, forbid?: RegExp): string {
  const parts = unsafe.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = posix.join(root, ...done, part);
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch {
      // Missing components are fine: the caller may create them.
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (forbid?.test(posix.join('/', ...done, part))) throw new Error(`${unsafe} leads into ${posix.join('/', ...done, part)}`);
    if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links resolving ${unsafe}`);
    const target = readlinkSync(candidate);
    if (target.startsWith('/')) done.length = 0;
    parts.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return posix.join(root, ...done);
}
