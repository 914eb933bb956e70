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

/**
 * Memory as `docker stats` shows it: usage without the inactive page cache
 * (what the kernel reclaims first), and the limit (undefined: none set).
 */
export function memoryStats(cg: ContainerCgroup): { usage: number; limit?: number } | undefined {
  const usage = memoryUsage(cg);
  if (usage === undefined) return undefined;
  const v2 = cg.layout.controllers.memory?.version === 2;
  const stat = parseKeyed(memoryFile(cg, 'memory.stat', 'memory.stat') ?? '');
  const inactive = stat.get(v2 ? 'inactive_file' : 'total_inactive_file') ?? 0;
  const limitText = memoryFile(cg, 'memory.max', 'memory.limit_in_bytes')?.trim() ?? 'max';
  // v1 says "no limit" with a huge page-aligned number rather than "max".
  const limit = /^\d+$/.test(limitText) && Number(limitText) < 2 ** 62 ? Number(limitText) : undefined;
  return { usage: inactive < usage ? usage - inactive : usage, limit };
}

/**
 * CPU time the container's processes used, in nanoseconds: cgroup v2's
 * cpu.stat, which every v2 directory has, the cpu controller enabled or not
 * (on a hybrid host skiff's container has one, for its device program).
 */
export function cpuUsageNs(cg: ContainerCgroup): number | undefined {
  const v2 = cg.hierarchies.find((h) => h.version === 2);
  const usec = v2 ? parseKeyed(readText(join(v2.dir, 'cpu.stat')) ?? '').get('usage_usec') : undefined;
  return usec === undefined ? undefined : usec * 1000;
}

/** How many tasks the container has (pids.current), or undefined without the pids controller. */
export function pidsCurrent(cg: ContainerCgroup): number | undefined {
  const text = cg.dirs.pids ? readText(join(cg.dirs.pids, 'pids.current'))?.trim() : undefined;
  return text && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** Bytes read and written on block devices: cgroup v2's io.stat (where the io controller is enabled), else 0. */
export function blockIo(cg: ContainerCgroup): { read: number; write: number } {
  const v2 = cg.hierarchies.find((h) => h.version === 2);
  let read = 0;
  let write = 0;
  const text = v2 ? readText(join(v2.dir, 'io.stat')) ?? '' : '';
  for (const line of text.split('\n')) {
    read += Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
    write += Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return { read, write };
}
