// Atomic JSON state files: a temp file beside the file, then rename(2), so a
// reader never sees half a file even if skiff is killed.
import { closeSync, fchmodSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function readJsonOr<T>(file: string, fallback: T): T {
  try {
    return readJson<T>(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw e;
  }
}

let writes = 0;

/**
 * The rename makes the write atomic; fsync would also make it durable across
 * a power cut, which costs milliseconds per write on the start path and buys
 * little for state that describes processes that die with the machine anyway.
 *
 * Written here rather than with write-file-atomic, which skiff used before:
 * its synchronous path names the temp file with a sha1 of the pid and thread
 * id, and loading node:crypto and node:worker_threads for that took ~10 ms of
 * every `run` (bench/start.sh). Its other service, removing the temp file
 * when a signal ends the process, cannot apply to a synchronous write: Node
 * runs signal handlers between JavaScript turns, never inside this function.
 */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  // Unique per process and call; O_EXCL refuses anyone else's temp file.
  const tmp = `${file}.${process.pid}.${++writes}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', mode);
    fchmodSync(fd, mode); // exactly MODE, whatever the umask
    writeFileSync(fd, JSON.stringify(value, null, 2) + '\n');
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
