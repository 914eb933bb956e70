import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';

/** Reads a cgroup file; undefined when it (or its cgroup) does not exist. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes one value in a single write(). No O_CREAT: cgroupfs cannot create files,
 * and a missing file should fail as ENOENT, not as a misleading EACCES.
 */
export function writeValue(path: string, value: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    writeSync(fd, value);
  } catch (err) {
    throw new Error(`cgroup: cannot write '${value}' to ${path}: ${describe(err)}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Parses "key value" lines (memory.events, memory.oom_control, cgroup.events). */
export function parseKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

/** The errno code of a fs error, or of the fs error wrapped as `cause`. */
export function errno(err: unknown): string | undefined {
  const e = err as (NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) | undefined;
  return e?.code ?? e?.cause?.code;
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread; fine for a short-lived CLI waiting on the kernel. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
