import { existsSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { freezeCgroup, thawCgroup } from './freeze.js';
import { describe, errno, sleepSync, writeValue } from './io.js';
import { listPids, type ContainerCgroup } from './lifecycle.js';

/** SIGKILLs every process in the container and waits until its cgroups are empty. */
export function killAll(cg: ContainerCgroup, timeoutMs = 2000): void {
  const deadline = Date.now() + timeoutMs;
  if (listPids(cg).length === 0) return;
  const killFile = v2KillFile(cg);
  for (;;) {
    if (killFile) {
      // cgroup.kill (Linux >= 5.14) kills the whole subtree at once, so no fork can escape.
      writeIfPresent(killFile, '1');
      signal(listPids(cg));
      // On a hybrid host the freezer is v1's, whose frozen tasks act on
      // SIGKILL only once thawed (v2's freezer lets fatal signals through).
      if (cg.layout.controllers.freezer?.version === 1) thawQuietly(cg);
    } else {
      signalFrozen(cg);
    }
    sleepSync(5);
    const left = listPids(cg);
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`cgroup: processes ${left.join(' ')} of container ${cg.id} survived SIGKILL for ${timeoutMs} ms`);
    }
  }
}

function v2KillFile(cg: ContainerCgroup): string | undefined {
  const h = cg.hierarchies.find((x) => x.version === 2);
  const file = h && join(h.dir, 'cgroup.kill');
  return file && existsSync(file) ? file : undefined;
}

/**
 * Without cgroup.kill, a process could fork between our reading cgroup.procs and
 * the kill; freezing first closes that race (as runc does). A v1 frozen task only
 * acts on SIGKILL once thawed, so thaw afterwards.
 */
function signalFrozen(cg: ContainerCgroup): void {
  const canFreeze = cg.dirs.freezer !== undefined;
  if (canFreeze) {
    try {
      freezeCgroup(cg, 100);
    } catch {
      // kill anyway; the retry loop catches late forks
    }
  }
  signal(listPids(cg));
  if (canFreeze) {
    try {
      thawCgroup(cg);
    } catch {
      // the cgroup may be gone already
    }
  }
}

function thawQuietly(cg: ContainerCgroup): void {
  try {
    thawCgroup(cg);
  } catch {
    // the cgroup may be gone already
  }
}

function signal(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if (errno(err) !== 'ESRCH') throw err;
    }
  }
}

function writeIfPresent(file: string, value: string): void {
  try {
    writeValue(file, value);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
}

/**
 * Kills the container's processes and removes its cgroup directories. Idempotent:
 * an already removed cgroup is not an error. The shared skiff/ parent is removed
 * when this was its last container; otherwise it stays.
 */
export function destroyCgroup(cg: ContainerCgroup, timeoutMs = 2000): void {
  const deadline = Date.now() + timeoutMs;
  killAll(cg, timeoutMs);
  for (const h of cg.hierarchies) {
    for (;;) {
      try {
        rmdirSync(h.dir);
        break;
      } catch (err) {
        if (errno(err) === 'ENOENT') break;
        // Exited tasks can keep a cgroup busy for a moment after cgroup.procs is empty.
        if (errno(err) !== 'EBUSY' || Date.now() > deadline) {
          throw new Error(`cgroup: cannot remove ${h.dir}: ${describe(err)}`, { cause: err });
        }
        sleepSync(5);
      }
    }
  }
  for (const parent of new Set(cg.hierarchies.map((h) => h.parent))) {
    try {
      rmdirSync(parent);
    } catch {
      // still used by other containers (EBUSY/ENOTEMPTY), or already gone
    }
  }
}
