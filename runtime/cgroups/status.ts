import { join } from 'node:path';
import { parseKeyed, readText } from './io.js';
import type { ContainerCgroup } from './lifecycle.js';

function memoryFile(cg: ContainerCgroup, v2: string, v1: string): string | undefined {
  const dir = cg.dirs.memory;
  const h = cg.layout.controllers.memory;
  return dir && h ? readText(join(dir, h.version === 2 ? v2 : v1)) : undefined;
}

/**
 * Whether the kernel OOM-killed a process of the container. Read it before the
 * cgroup is removed. memory.failcnt is no OOM signal: it counts every time usage
 * hit the limit, and reclaim usually resolves that without a kill.
 */
export function oomKilled(cg: ContainerCgroup): boolean {
  const text = memoryFile(cg, 'memory.events', 'memory.oom_control');
  if (text === undefined) return false;
  const fields = parseKeyed(text);
  // v1's oom_kill line appeared in Linux 4.13; older kernels only show under_oom.
  return (fields.get('oom_kill') ?? 0) > 0 || fields.get('under_oom') === 1;
}

/** Current memory usage of the container in bytes, or undefined if unknown. */
export function memoryUsage(cg: ContainerCgroup): number | undefined {
  const text = memoryFile(cg, 'memory.current', 'memory.usage_in_bytes')?.trim();
  return text && /^\d+$/.test(text) ? Number(text) : undefined;
}
