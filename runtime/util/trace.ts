// SKIFF_TRACE=1 prints where the time goes, one line per phase on stderr,
// in milliseconds since this process started (bench/start.sh reads these).
import { performance } from 'node:perf_hooks';

const enabled = !!process.env.SKIFF_TRACE;

export function mark(phase: string): void {
  if (enabled) process.stderr.write(`skiff-trace ${phase} ${performance.now().toFixed(1)}\n`);
}
