// Recovering from commands that died half-way. Docker's daemon and podman's
// cleanup process do this for them; skiff has no daemon, so the next skiff
// command does it.
//
// A start in progress is marked by containers/<id>/starting, one line
// "PID STARTTIME" per process that owns the start (run, then its detached
// monitor). The marker goes when the container runs or the start is rolled
// back. A marker whose owners are all gone means a start was killed: its
// overlay mount, cgroup, address lease and rules are released, and a --rm
// container is removed.
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { destroyCgroup } from '../cgroups/index.js';
import { releaseNetwork } from '../network/index.js';
import { withLock } from '../util/lock.js';
import { paths } from '../util/paths.js';
import { isSameProcess, procStartTime } from '../util/proc.js';
import { unmountRootfs } from './rootfs.js';
import { cgroupOf } from './start.js';
import * as store from './store.js';

const markerOf = (id: string) => join(paths.container(id), 'starting');

/** This process now owns the start of container `id` (with any earlier owner). */
export function claimStart(id: string): void {
  appendFileSync(markerOf(id), `${process.pid} ${procStartTime(process.pid)}\n`);
}

/** The start is over (running, or rolled back by its owner). */
export function releaseStart(id: string): void {
  rmSync(markerOf(id), { force: true });
}

/** undefined: no start in progress; otherwise whether an owner still lives. */
function ownerAlive(id: string): boolean | undefined {
  let text: string;
  try {
    text = readFileSync(markerOf(id), 'utf8');
  } catch {
    return undefined;
  }
  return text.split('\n').filter(Boolean).some((l) => {
    const [pid, start] = l.split(' ').map(Number);
    return isSameProcess(pid, start);
  });
}

/** Undoes what a dead start left; true if the container was removed (--rm). */
function rollBack(id: string): boolean {
  return withLock(`start-${id}`, () => {
    if (ownerAlive(id) !== false) return false; // someone else finished it first
    let rec;
    try {
      rec = store.read(id);
    } catch {
      store.removeDir(id); // died before the first record was complete
      return true;
    }
    if (rec.State.Running) {
      releaseStart(id); // it did start; refresh() looks after a dead monitor
      return false;
    }
    try {
      destroyCgroup(cgroupOf(rec)); // also kills a PID 1 that never got recorded
    } catch {
      // none was made
    }
    try {
      unmountRootfs(id);
    } catch {
      // not mounted
    }
    releaseNetwork(id);
    releaseStart(id);
    if (rec.HostConfig.AutoRemove) {
      store.removeDir(id);
      return true;
    }
    return false;
  });
}

/** Rolls back every start whose owners died. */
export function recoverDeadStarts(ids = store.startMarked()): void {
  for (const id of ids) {
    if (ownerAlive(id) === false) {
      try {
        rollBack(id);
      } catch (e) {
        process.stderr.write(`skiff: warning: could not roll back the interrupted start of ${id.slice(0, 12)}: ${(e as Error).message}\n`);
      }
    }
  }
}
