// Prompt collection of spent Buffers while streaming large amounts of data.
//
// A pull passes ~130 MiB of short-lived Buffers (socket reads, gunzip
// output) through the process. Their memory lives outside V8's heap, so it
// does not fill the young generation, and V8 collects them only when other
// allocation triggers a scavenge, or when 64 MiB of external memory piled
// up: the dead buffers (and malloc's retention of them) were a quarter of
// the peak RSS of a pull. A young-generation collection every few MiB
// streamed (~0.5 ms each, ~30 per pull of 50 MiB) keeps that pile small.
//
// `gc` is not exposed without --expose-gc; the flag can be set at run time,
// and a new context then has the function. When that fails, this does nothing.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;
let gc: GcFn | null | undefined;

function load(): GcFn | null {
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as GcFn) : null;
  } catch {
    return null;
  }
}

/** Measured on bench/pull.sh's image: peak RSS of a pull 105 MiB without, 80 MiB with a collection every 4 MiB. */
const EVERY = 4 * 1024 * 1024;
let streamed = 0;

/** Counts `n` bytes streamed (downloaded, or read from a tar); collects the young generation every few MiB. */
export function streamedBytes(n: number): void {
  streamed += n;
  if (streamed < EVERY) return;
  streamed = 0;
  gc ??= load();
  gc?.({ type: 'minor' });
}
