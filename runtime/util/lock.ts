// Cross-process locks on files under $SKIFF_ROOT/locks, using flock(2):
// the kernel releases them when a process dies, so a killed skiff never
// leaves a stale lock behind.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { flock, LOCK_EX, LOCK_NB } from '../../native-bindings/libc.js';
import { paths } from './paths.js';

/** Blocks until the named lock is ours; closing the returned fd releases it. */
export function acquire(name: string): number {
  const dir = paths.locks();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.lock`);
  const fd = openSync(file, 'a');
  try {
    flock(fd, LOCK_EX, file);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

export function withLock<T>(name: string, fn: () => T): T {
  const fd = acquire(name);
  try {
    return fn();
  } finally {
    closeSync(fd);
  }
}

export async function withLockAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const fd = acquire(name);
  try {
    return await fn();
  } finally {
    closeSync(fd);
  }
}

/** The lock if nobody holds it (fd; close it to release), else undefined. Never blocks. */
export function tryAcquire(name: string): number | undefined {
  const dir = paths.locks();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.lock`);
  const fd = openSync(file, 'a');
  try {
    flock(fd, LOCK_EX | LOCK_NB, file);
    return fd;
  } catch {
    closeSync(fd);
    return undefined;
  }
}

/** Waits for the named lock without blocking the event loop (polls tryAcquire); close the fd to release. */
export async function acquireAsync(name: string, intervalMs = 20): Promise<number> {
  for (;;) {
    const fd = tryAcquire(name);
    if (fd !== undefined) return fd;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
