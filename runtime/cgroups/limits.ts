import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CgroupLayout, Controller } from './detect.js';
import { writeValue } from './io.js';
import type { ContainerCgroup } from './lifecycle.js';

/** Resource limits with Docker's meanings. Zero or absent means "no limit". */
export interface CgroupLimits {
  /** Memory limit in bytes. */
  memory?: number;
  /** Memory plus swap in bytes; -1 = unlimited swap. Absent with `memory` set: twice `memory`. */
  memorySwap?: number;
  /** CPUs in billionths (--cpus 1.5 = 1.5e9). */
  nanoCpus?: number;
  /** Relative CPU weight (--cpu-shares), 2..262144; the default is 1024. */
  cpuShares?: number;
  /** Maximum number of tasks; <= 0 = unlimited. */
  pidsLimit?: number;
}

/** One file write that applies a limit. */
export interface CgroupWrite {
  controller: Controller;
  file: string;
  value: string;
  /** Skip if the kernel lacks the file (swap accounting can be compiled out or disabled). */
  ifExists?: true;
}

export const CPU_PERIOD_US = 100000;
/** Docker's minimum memory limit. */
export const MIN_MEMORY = 6 * 1024 * 1024;
const MIN_SHARES = 2;
const MAX_SHARES = 262144;

/** The cgroup v2 cpu.weight for v1 cpu.shares, the linear mapping runc and crun use. */
export function sharesToWeight(shares: number): number {
  const s = Math.min(MAX_SHARES, Math.max(MIN_SHARES, Math.trunc(shares)));
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** Rejects combinations Docker rejects. */
export function validateLimits(limits: CgroupLimits): void {
  const { memory = 0, memorySwap = 0, nanoCpus = 0, cpuShares = 0 } = limits;
  const ints = { memory, memorySwap, nanoCpus, cpuShares, pidsLimit: limits.pidsLimit ?? 0 };
  for (const [name, v] of Object.entries(ints)) {
    if (!Number.isSafeInteger(v)) throw new Error(`invalid ${name}: ${v} (not an integer)`);
  }
  if (memory < 0) throw new Error(`invalid memory limit: ${memory}`);
  if (memory > 0 && memory < MIN_MEMORY) throw new Error('Minimum memory limit allowed is 6MB');
  if (memorySwap < -1) throw new Error(`invalid memory swap limit: ${memorySwap}`);
  if (memorySwap > 0 && memory === 0) {
    throw new Error('You should always set the Memory limit when using Memoryswap limit');
  }
  if (memorySwap > 0 && memorySwap < memory) {
    throw new Error('Minimum memoryswap limit should be larger than memory limit');
  }
  if (nanoCpus < 0 || (nanoCpus > 0 && nanoCpus < 1e7)) throw new Error('Range of CPUs starts at 0.01');
  if (cpuShares < 0) throw new Error(`invalid cpu shares: ${cpuShares}`);
}

/** Computes the file writes that apply LIMITS on LAYOUT, in the order they must be made. */
export function planLimits(limits: CgroupLimits, layout: CgroupLayout): CgroupWrite[] {
  validateLimits(limits);
  const writes: CgroupWrite[] = [];
  const version = (controller: Controller, what: string): 1 | 2 => {
    const h = layout.controllers[controller];
    if (!h) {
      const v2 = layout.v2;
      if (v2?.delegatable.includes(controller)) {
        // The kernel has it, but our cgroup's parent did not hand it down.
        const parent = dirname(v2.ownDir);
        throw new Error(
          `cgroup: cannot set ${what}: the ${controller} controller is not delegated to skiff's cgroup ${v2.ownDir}; ` +
            `enable it with: echo +${controller} > ${join(parent, 'cgroup.subtree_control')}`,
        );
      }
      throw new Error(`cgroup: cannot set ${what}: the ${controller} controller is not available on this host`);
    }
    return h.version;
  };
  const add = (controller: Controller, file: string, value: number | string, ifExists?: true): void => {
    writes.push({ controller, file, value: String(value), ...(ifExists ? { ifExists } : {}) });
  };

  const { memory = 0, nanoCpus = 0, cpuShares = 0, pidsLimit = 0 } = limits;
  if (memory > 0) {
    const total = limits.memorySwap === undefined || limits.memorySwap === 0 ? memory * 2 : limits.memorySwap;
    if (version('memory', 'a memory limit') === 2) {
      add('memory', 'memory.max', memory);
      add('memory', 'memory.swap.max', total === -1 ? 'max' : total - memory, true);
    } else {
      // The kernel requires limit_in_bytes <= memsw.limit_in_bytes at every moment;
      // a new cgroup starts with both unlimited, so the plain limit goes first.
      add('memory', 'memory.limit_in_bytes', memory);
      add('memory', 'memory.memsw.limit_in_bytes', total, true);
    }
  }
  if (nanoCpus > 0) {
    const quota = Math.floor((nanoCpus * CPU_PERIOD_US) / 1e9);
    if (version('cpu', 'a CPU quota') === 2) {
      add('cpu', 'cpu.max', `${quota} ${CPU_PERIOD_US}`);
    } else {
      add('cpu', 'cpu.cfs_period_us', CPU_PERIOD_US);
      add('cpu', 'cpu.cfs_quota_us', quota);
    }
  }
  if (cpuShares > 0) {
    if (version('cpu', 'CPU shares') === 2) add('cpu', 'cpu.weight', sharesToWeight(cpuShares));
    else add('cpu', 'cpu.shares', Math.min(MAX_SHARES, Math.max(MIN_SHARES, cpuShares)));
  }
  if (pidsLimit > 0) {
    version('pids', 'a pids limit');
    add('pids', 'pids.max', pidsLimit);
  }
  return writes;
}

/** Makes WRITES in the container's cgroups; throws naming the file and value that failed. */
export function applyLimits(cg: ContainerCgroup, writes: CgroupWrite[]): void {
  for (const w of writes) {
    const dir = cg.dirs[w.controller];
    if (!dir) throw new Error(`cgroup: container ${cg.id} has no ${w.controller} cgroup for ${w.file}`);
    const file = join(dir, w.file);
    if (w.ifExists && !existsSync(file)) continue;
    writeValue(file, w.value);
  }
}
