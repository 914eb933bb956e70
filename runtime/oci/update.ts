// skiff-runc update: new resource limits for a created or running container,
// from runc's flags or a linux.resources JSON (--resources FILE, "-" = stdin),
// checked by the same code as config.json and written by the same cgroup code.
import { readFileSync } from 'node:fs';
import { applyLimits, planLimits, type CgroupWrite } from '../cgroups/index.js';
import { parseMemorySize } from '../cgroups/units.js';
import { ConfigError, resources } from './config.js';
import { cgroupOf, load, RuncError, statusOf } from './state.js';

export interface UpdateFlags {
  resources?: string;
  memory?: string;
  memorySwap?: string;
  cpuShares?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  pidsLimit?: string;
}

const num = (v: string, what: string): number => {
  if (!/^-?\d+$/.test(v)) throw new RuncError(`invalid value for ${what}: ${v}`);
  return Number(v);
};

export function update(root: string, id: string, f: UpdateFlags): void {
  const s = load(root, id);
  if (statusOf(root, s) === 'stopped') throw new RuncError('cannot update a container that has stopped');
  let r: Record<string, any> = {};
  if (f.resources) {
    try {
      r = JSON.parse(readFileSync(f.resources === '-' ? 0 : f.resources, 'utf8')) as Record<string, any>;
    } catch (e) {
      throw new RuncError(`reading resources: ${(e as Error).message}`);
    }
  }
  const size = (v: string) => (v === '-1' ? -1 : parseMemorySize(v));
  if (f.memory !== undefined) (r.memory ??= {}).limit = size(f.memory);
  if (f.memorySwap !== undefined) (r.memory ??= {}).swap = size(f.memorySwap);
  if (f.cpuShares !== undefined) (r.cpu ??= {}).shares = num(f.cpuShares, 'cpu-shares');
  if (f.cpuQuota !== undefined) (r.cpu ??= {}).quota = num(f.cpuQuota, 'cpu-quota');
  if (f.cpuPeriod !== undefined) (r.cpu ??= {}).period = num(f.cpuPeriod, 'cpu-period');
  if (f.pidsLimit !== undefined) (r.pids ??= {}).limit = num(f.pidsLimit, 'pids-limit');
  delete r.devices; // device rules are set once, at create (as runc's update leaves them)
  let writes: CgroupWrite[];
  const cg = cgroupOf(s);
  try {
    writes = planLimits(resources(r).limits, cg.layout);
  } catch (e) {
    if (e instanceof ConfigError) throw new RuncError(e.message.replace(/^config\.json: linux\.resources/, 'resources'));
    throw new RuncError(`invalid resources: ${(e as Error).message}`);
  }
  try {
    applyLimits(cg, writes);
  } catch {
    // cgroup v1 wants memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every
    // moment: raising both needs the reverse order.
    applyLimits(cg, [...writes].reverse());
  }
}
