// Atomic JSON state files: write-file-atomic writes a temp file, fsyncs and
// renames, so a reader never sees half a file even if skiff is killed.
import { readFileSync } from 'node:fs';
// In the CLI bundle it runs on first use (tools/bundle.mjs, LAZY_PACKAGES).
import writeFileAtomic from 'write-file-atomic';

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

/**
 * The rename makes the write atomic; fsync would also make it durable across
 * a power cut, which costs milliseconds per write on the start path and buys
 * little for state that describes processes that die with the machine anyway.
 */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  writeFileAtomic.sync(file, JSON.stringify(value, null, 2) + '\n', { mode, fsync: false });
}
