// `docker stats`: what the kernel counts for a running container. CPU time,
// memory, tasks and block I/O come from its cgroup; network bytes from
// /proc/PID/net/dev, which shows the interfaces of PID's network namespace.
// CPU % is Docker's: the container's share of all CPU time spent between
// two samples, times the number of CPUs (so one busy core is 100%).
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { blockIo, cpuUsageNs, memoryStats, pidsCurrent } from '../cgroups/status.js';
import { cgroupOf } from './cgroup.js';
import type { ContainerRecord } from './model.js';

export interface Sample {
  /** CPU time of the container, ns (undefined: not counted on this host). */
  cpuNs?: number;
  /** CPU time of the whole machine, ns (/proc/stat). */
  systemNs: number;
  memory?: { usage: number; limit?: number };
  pids?: number;
  net: { rx: number; tx: number };
  block: { read: number; write: number };
}

/** The machine's CPU time, all CPUs and states, in ns (USER_HZ is 100 on Linux). */
export function systemCpuNs(procStat: string): number {
  const fields = /^cpu\s+(.*)$/m.exec(procStat)?.[1].trim().split(/\s+/).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal; guest time is counted in user already.
  return fields.slice(0, 8).reduce((a, b) => a + b, 0) * 1e7;
}

/** Bytes received and sent over every interface but lo, from /proc/net/dev's text. */
export function netBytes(netDev: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of netDev.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0] || 0;
    tx += f[8] || 0;
  }
  return { rx, tx };
}

export function sample(rec: ContainerRecord): Sample {
  const cg = cgroupOf(rec);
  let net = { rx: 0, tx: 0 };
  try {
    net = netBytes(readFileSync(`/proc/${rec.State.Pid}/net/dev`, 'utf8'));
  } catch {
    // exited meanwhile
  }
  return {
    cpuNs: cpuUsageNs(cg), systemNs: systemCpuNs(readFileSync('/proc/stat', 'utf8')),
    memory: memoryStats(cg), pids: pidsCurrent(cg), net, block: blockIo(cg),
  };
}

export interface Stats {
  cpuPercent: number;
  memUsage: number;
  /** The limit, or the machine's memory when none is set (as Docker shows it). */
  memLimit: number;
  memPercent: number;
  net: { rx: number; tx: number };
  block: { read: number; write: number };
  pids: number;
}

/** Docker's figures from two samples of one container (`before` undefined: CPU % is 0). Pure; unit-tested. */
export function statsBetween(before: Sample | undefined, now: Sample, cpus = availableParallelism(), machineMemory = totalmem()): Stats {
  const cpuDelta = before?.cpuNs !== undefined && now.cpuNs !== undefined ? now.cpuNs - before.cpuNs : 0;
  const systemDelta = before ? now.systemNs - before.systemNs : 0;
  const memLimit = now.memory?.limit ?? machineMemory;
  const memUsage = now.memory?.usage ?? 0;
  return {
    cpuPercent: cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0,
    memUsage, memLimit, memPercent: memLimit > 0 ? (memUsage / memLimit) * 100 : 0,
    net: now.net, block: now.block, pids: now.pids ?? 0,
  };
}
