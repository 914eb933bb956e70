// Recovering from commands that died half-way. Docker's daemon and podman's
// cleanup process do this for them; skiff has no daemon, so the next skiff
// command does it.
//
// A start in progress is marked by containers/<id>/starting, one line
// "PID STARTTIME" per process that owns the start (run, then its detached
// monitor), and one line per cgroup directory the start makes (an absolute
// path: it depends on the starter's own cgroup, so the record's, written
// only once the container runs, may name another run's). The marker goes
// when the container runs or the start is rolled back. A marker whose owners are all gone means a start was killed: its
// overlay mount, cgroup, address lease and rules are released, and a --rm
// container is removed.
import { appendFileSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { destroyCgroup } from '../cgroups/index.js';
import { releaseNetwork } from '../network/index.js';
import { withLock } from '../util/lock.js';
import { paths } from '../util/paths.js';
import { isSameProcess, procStartTime } from '../util/proc.js';
import { unmountRootfs } from './rootfs.js';
import { cgroupAt, cgroupOf } from './cgroup.js';
import * as store from './store.js';

const markerOf = (id: string) => join(paths.container(id), 'starting');
const ephemeralOf = (id: string) => join(paths.container(id), 'ephemeral');

/**
 * Marks a container as living only as long as this process (a build's RUN
 * step): if the process dies, the next skiff command removes it.
 */
export function claimEphemeral(id: string): void {
  appendFileSync(ephemeralOf(id), `${process.pid} ${procStartTime(process.pid)}\n`);
}

/** This process now owns the start of container `id` (with any earlier owner). */
export function claimStart(id: string): void {
  appendFileSync(markerOf(id), `${process.pid} ${procStartTime(process.pid)}\n`);
}

/** The cgroup directories this start is about to make (see the top of this file). */
export function noteStartCgroup(id: string, dirs: readonly string[]): void {
  appendFileSync(markerOf(id), dirs.map((d) => `${d}\n`).join(''));
}

/** The start is over (running, or rolled back by its owner). */
export function releaseStart(id: string): void {
  rmSync(markerOf(id), { force: true });
}

/** The lines of a marker file; undefined if there is none. */
function markerLines(file: string): string[] | undefined {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** undefined: no start in progress; otherwise whether an owner still lives. */
function ownerAlive(id: string, file = markerOf(id)): boolean | undefined {
  const lines = markerLines(file);
  return lines?.filter((l) => !l.startsWith('/')).some((l) => {
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
    // The directories the dead start noted; the record's are an earlier run's.
    const noted = (markerLines(markerOf(id)) ?? []).filter((l) => l.startsWith('/'));
    try {
      // Also kills a PID 1 that never got recorded.
      destroyCgroup(noted.length ? cgroupAt(id, noted) : cgroupOf(rec));
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

/** Rolls back every start whose owners died, and removes ephemeral containers whose owner died. */
export async function recoverDeadStarts(ids = store.startMarked()): Promise<void> {
  for (const id of ids) {
    try {
      if (ownerAlive(id) === false) rollBack(id);
      if (ownerAlive(id, ephemeralOf(id)) === false) {
        const { remove } = await import('./lifecycle.js');
        let rec;
        try {
          rec = store.read(id);
        } catch {
          store.removeDir(id);
          continue;
        }
        await remove(rec, true);
      }
    } catch (e) {
      process.stderr.write(`skiff: warning: could not clean up after the interrupted command of container ${id.slice(0, 12)}: ${(e as Error).message}\n`);
    }
  }
}

function sizeOf(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const n of readdirSync(p)) walk(join(p, n));
    } else {
      total += st.size;
    }
  };
  walk(path);
  return total;
}

/**
 * `container prune`: every stopped container, and container directories that
 * hold no record (what a failed create on a full disk could leave).
 */
export async function pruneContainers(): Promise<{ deleted: string[]; bytes: number }> {
  const { refresh, remove } = await import('./lifecycle.js');
  const deleted: string[] = [];
  let bytes = 0;
  for (const id of store.listAllIds()) {
    let rec;
    try {
      rec = refresh(store.read(id));
    } catch {
      // Record-less: unless a create holds the names lock right now and is about to write it.
      const gone = withLock('names', () => {
        if (existsSync(join(paths.container(id), 'state.json'))) return false;
        bytes += sizeOf(paths.container(id));
        store.removeDir(id);
        return true;
      });
      if (gone) deleted.push(id);
      continue;
    }
    if (rec.State.Running || rec.State.Status === 'removing') continue;
    bytes += sizeOf(paths.container(id));
    await remove(rec, true);
    deleted.push(id);
  }
  return { deleted, bytes };
}
