// `docker top`: the host's `ps`, with the user's options, keeping the rows
// of the container's processes, as Docker's daemon does. Which processes
// are the container's is the kernel's answer: the pids in its cgroup, exec'd
// ones included (a pid namespace would miss nothing either, but the cgroup
// is what `kill` and `rm -f` act on too).
import { execFileSync } from 'node:child_process';
import { listPids } from '../cgroups/lifecycle.js';
import { SkiffError } from '../util/errors.js';
import { cgroupOf } from './cgroup.js';
import type { ContainerRecord } from './model.js';

export interface Top {
  Titles: string[];
  Processes: string[][];
}

/**
 * Keeps the lines of `ps` output whose PID is one of PIDS. The last column
 * (CMD) keeps its spaces; a thread line (`ps -m`, PID "-") belongs to the
 * process above it. Pure; unit-tested.
 */
export function filterPs(output: string, pids: ReadonlySet<number>): Top {
  const [header = '', ...lines] = output.split('\n');
  const titles = header.trim().split(/\s+/).filter(Boolean);
  const at = titles.indexOf('PID');
  if (at < 0) throw new SkiffError("Couldn't find PID field in ps output", 1);
  const processes: string[][] = [];
  let previousKept = false;
  for (const line of lines) {
    const fields = line.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    if (fields[at] === '-') {
      if (previousKept) processes.push(row);
      continue;
    }
    if (!/^\d+$/.test(fields[at] ?? '')) throw new SkiffError(`Unexpected pid '${fields[at]}' in ps output`, 1);
    previousKept = pids.has(Number(fields[at]));
    if (previousKept) processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

/** The container's processes as `ps PS_ARGS` shows them (default `-ef`). */
export function topOf(rec: ContainerRecord, psArgs: string[] = []): Top {
  if (!rec.State.Running) throw new SkiffError(`container ${rec.Id} is not running`, 1);
  const pids = new Set(listPids(cgroupOf(rec)));
  let output: string;
  try {
    output = execFileSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new SkiffError('top needs ps (Debian package procps): apt-get install -y procps', 1);
    throw new SkiffError(`ps ${psArgs.join(' ')}: ${(err.stderr ?? '').trim().split('\n')[0] || 'failed'}`, 1);
  }
  return filterPs(output, pids);
}
