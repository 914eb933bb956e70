// The working directory of a container or exec'd process, resolved inside
// the container's root the way -v targets are. The kernel's chdir happens
// later (after /proc and /sys are mounted), so a path that leads there
// through a symlink (/fdl -> /proc/self/fd) would land on a descriptor table:
// such a path is refused after resolution, not by comparing strings.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { secureJoin } from '../sandbox/securejoin.js';
import { SkiffError } from '../util/errors.js';

const KERNEL_FS = /^\/(proc|sys)(\/|$)/;

/** Docker's rule for -w and WORKDIR as given; run, create and exec share it. */
export function checkWorkdir(wd: string | undefined): void {
  if (wd && !posix.isAbsolute(wd)) throw new SkiffError(`the working directory '${wd}' is invalid, it needs to be an absolute path`);
}

export interface Workdir {
  /** The path on the host, under root. */
  host: string;
  /** The same path inside the container, free of symlinks: what chdir gets. */
  inside: string;
}

export function resolveWorkdir(root: string, cwd: string): Workdir {
  checkWorkdir(cwd);
  const refuse = () => new SkiffError(`invalid workdir ${cwd}: must not be inside /proc or /sys (after following symlinks)`);
  if (KERNEL_FS.test(posix.normalize(cwd))) throw refuse();
  let host: string;
  try {
    host = secureJoin(root, cwd, KERNEL_FS);
  } catch (e) {
    if (/leads into/.test((e as Error).message)) throw refuse();
    const code = (e as NodeJS.ErrnoException).code;
    throw new SkiffError(`invalid working directory '${cwd.length > 80 ? `${cwd.slice(0, 80)}…` : cwd}': ${code === 'ENAMETOOLONG' ? 'path too long' : code ?? 'too many levels of symbolic links'}`);
  }
  const inside = host.slice(root.length) || '/';
  if (KERNEL_FS.test(inside)) throw refuse();
  return { host, inside: inside.startsWith('/') ? inside : `/${inside}` };
}

/** For start: resolves, and creates a missing workdir as Docker does. */
export function prepareWorkdir(root: string, cwd: string): string {
  const wd = resolveWorkdir(root, cwd);
  const shown = cwd.length > 80 ? `${cwd.slice(0, 80)}…` : cwd;
  try {
    if (existsSync(wd.host)) {
      if (!statSync(wd.host).isDirectory()) throw new SkiffError(`failed to create workdir ${shown}: not a directory`);
    } else {
      mkdirSync(wd.host, { recursive: true, mode: 0o755 });
    }
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENAMETOOLONG' ? 'path too long' : code === 'ENOSPC' ? 'no space left on device' : code === 'ENOTDIR' ? 'not a directory' : code ?? 'failed';
    throw new SkiffError(`failed to create workdir ${shown}: ${why}`);
  }
  return wd.inside;
}
