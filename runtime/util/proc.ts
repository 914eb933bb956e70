// Facts about host processes, read from /proc.
import { readFileSync } from 'node:fs';

/** Start time (clock ticks since boot, field 22 of /proc/PID/stat), or 0 if the pid is gone. */
export function procStartTime(pid: number): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return 0;
  }
}

/** True if `pid` is alive and is the same process that had `startTime` (pids get reused). */
export function isSameProcess(pid: number, startTime: number): boolean {
  if (!pid) return false;
  const now = procStartTime(pid);
  if (!now) return false;
  if (procState(pid) === 'Z') return false;
  return startTime === 0 || now === startTime;
}

export function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
