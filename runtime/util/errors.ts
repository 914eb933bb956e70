// Errors a user sees. Each carries Docker's exit code for the failure class:
// 125 when skiff itself fails, 126 when the command cannot be invoked, 127
// when it is not found.
import { constants as osConstants } from 'node:os';

export class SkiffError extends Error {
  constructor(message: string, readonly exitCode = 125) {
    super(message);
  }
}

export const EXIT = { RUNTIME: 125, CANNOT_INVOKE: 126, NOT_FOUND: 127 } as const;

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', EACCES: 'permission denied', EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links', ENAMETOOLONG: 'file name too long', ENOSPC: 'no space left on device',
  EINVAL: 'invalid argument', EISDIR: 'is a directory', ENOEXEC: 'exec format error', ENOMEM: 'cannot allocate memory',
};

/** "not a directory" for 20: the words strerror(3) would give, for messages a user reads. */
export function errnoText(errno: number): string {
  const name = Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0];
  return name ? ERRNO_TEXT[name] ?? name : `errno ${errno}`;
}

/**
 * A filesystem error as one line without host paths: what was being done
 * and why it failed ("loading: no space left on device"). Errors that are not
 * errno errors pass through unchanged.
 */
export function diskFailure(e: Error, doing: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (!code || !/^E[A-Z]+$/.test(code)) return e;
  const errno = (osConstants.errno as Record<string, number>)[code];
  const hint = code === 'ENOSPC' || code === 'EDQUOT' ? ': free space in the skiff root (SKIFF_ROOT) and try again' : '';
  return new SkiffError(`${doing}: ${errno ? errnoText(errno) : code}${hint}`);
}
