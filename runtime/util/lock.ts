// Cross-process locks on files under $SKIFF_ROOT/locks, using flock(2):
// the kernel releases them when a process dies, so a killed skiff never
// leaves a stale lock behind.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { flock, LOCK_EX } from '../../native-bindings/libc.js';
import { paths } from './paths.js';

export function withLock<T>(name: string, fn: () => T): T {
  const dir = paths.locks();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.lock`);
  const fd = openSync(file, 'a');
  try {
    flock(fd, LOCK_EX, file);
    return fn();
  } finally {
    closeSync(fd); // closing the last fd drops the flock
  }
}

export async function withLockAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = paths.locks();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.lock`);
  const fd = openSync(file, 'a');
  try {
    flock(fd, LOCK_EX, file);
    return await fn();
  } finally {
    closeSync(fd);
  }
}
