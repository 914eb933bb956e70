// Temporaries of killed commands. Each temporary name carries its writer's
// pid ("…-PID-…"); it is stale when that process is gone, or when the pid now
// belongs to a process that started after the file was last written (reuse).
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { procStartTime } from './proc.js';

let bootMs: number | undefined;
const CLK_TCK = 100; // USER_HZ on every Linux architecture skiff runs on

/** When `pid` started, in ms since the epoch; undefined if it is gone. */
function startedAt(pid: number): number | undefined {
  const ticks = procStartTime(pid);
  if (!ticks) return undefined;
  bootMs ??= Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? 0) * 1000;
  return bootMs + (ticks / CLK_TCK) * 1000;
}

/** True if the temporary at `path`, written by `pid`, has no live writer. */
export function isStale(path: string, pid: number): boolean {
  if (pid === process.pid) return false;
  const started = startedAt(pid);
  if (started === undefined) return true;
  try {
    // 1 s of slack: start times are in clock ticks.
    return started > statSync(path).mtimeMs + 1000;
  } catch {
    return false; // gone already
  }
}

/** Removes entries of `dir` whose name matches `re` (group 1: the pid) and whose writer is gone. */
export function sweepStale(dir: string, re: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = re.exec(n);
    if (!m) continue;
    const path = join(dir, n);
    if (isStale(path, Number(m[1]))) {
      rmSync(path, { recursive: true, force: true });
      removed.push(n);
    }
  }
  return removed;
}
