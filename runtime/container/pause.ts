// Freezing a container (pause, unpause, and commit's snapshot) so that a
// freeze can never outlive its owner.
//
// Whoever freezes holds the flock "freeze-<id>" for as long as the freeze is
// theirs: `commit` for the length of its snapshot, `pause` and `unpause` for
// the moment they change the freezer and the record. A user's pause is kept
// in the record (State.Paused); any other freeze belongs to a live lock
// holder. So a container found frozen, not paused by the user, whose lock
// nobody holds, was left by a command that died (e.g. SIGKILL during commit):
// heal() thaws it. The kernel drops the flock when its holder dies, so this
// needs no pid bookkeeping.
import { closeSync } from 'node:fs';
import { freezeCgroup, freezerState, freezerStateIn, thawCgroup } from '../cgroups/freeze.js';
import { errno } from '../cgroups/io.js';
import { SkiffError } from '../util/errors.js';
import { acquire, tryAcquire } from '../util/lock.js';
import type { ContainerRecord } from './model.js';
import { cgroupOf } from './cgroup.js';
import * as store from './store.js';

const lockName = (id: string) => `freeze-${id}`;

/** True when the kernel has (or is putting) the container's processes on ice. */
export function isFrozen(rec: ContainerRecord): boolean {
  if (!rec.State.Running) return false;
  try {
    // The recorded directories read directly: ps and inspect ask this of every
    // running container, and cgroupOf() would detect the host's layout each time.
    const recorded = rec.Skiff.CgroupPaths ?? [];
    const s = recorded.length ? freezerStateIn(recorded) : freezerState(cgroupOf(rec));
    return s === 'frozen' || s === 'freezing';
  } catch {
    return false; // no freezer on this host: nothing can be frozen
  }
}

/**
 * Undoes a freeze whose owner is gone, and makes the record's Paused match
 * the kernel. Returns the record as it now is; never blocks.
 */
export function heal(rec: ContainerRecord): ContainerRecord {
  if (!rec.State.Running) return rec;
  const frozen = isFrozen(rec);
  if (frozen === rec.State.Paused) return rec;
  const fd = tryAcquire(lockName(rec.Id));
  if (fd === undefined) {
    // A commit (or pause) is at work right now: report what the kernel says.
    return { ...rec, State: { ...rec.State, Paused: frozen, Status: frozen ? 'paused' : 'running' } };
  }
  try {
    const now = store.read(rec.Id);
    if (!now.State.Running) return now;
    if (isFrozen(now) && !now.State.Paused) {
      thawCgroup(cgroupOf(now)); // its freezer died holding it
      return now;
    }
    if (!isFrozen(now) && now.State.Paused) {
      return store.update(rec.Id, (r) => { r.State.Paused = false; r.State.Status = 'running'; });
    }
    return now;
  } catch {
    return rec; // removed meanwhile
  } finally {
    closeSync(fd);
  }
}

const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `fn` with the container frozen (unless the user paused it already,
 * which then stays). The thaw happens on return, on throw, and on SIGINT,
 * SIGTERM or SIGHUP (the process then exits 128+N, as after the signal);
 * after SIGKILL, heal() does it.
 */
export async function withFrozen<T>(rec: ContainerRecord, fn: () => Promise<T>): Promise<T> {
  const fd = acquire(lockName(rec.Id));
  let thaw = () => {};
  const handlers = EXIT_SIGNALS.map((sig) => {
    const h = () => {
      thaw();
      process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig]);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    const now = store.read(rec.Id);
    if (now.State.Running && !now.State.Paused) {
      const cg = cgroupOf(now);
      freezeCgroup(cg);
      thaw = () => {
        thaw = () => {};
        thawCgroup(cg);
      };
    }
    return await fn();
  } finally {
    thaw();
    for (const [sig, h] of handlers) process.off(sig, h);
    closeSync(fd);
  }
}

/** `skiff pause`: freezes every process of the container until `unpause`. */
export function pause(rec: ContainerRecord): void {
  const fd = acquire(lockName(rec.Id));
  try {
    const now = store.read(rec.Id);
    if (!now.State.Running) throw new SkiffError(`Container ${now.Id} is not running`, 1);
    if (now.State.Paused) throw new SkiffError(`Container ${now.Id} is already paused`, 1);
    freezeCgroup(cgroupOf(now));
    try {
      store.update(now.Id, (r) => { r.State.Paused = true; r.State.Status = 'paused'; });
    } catch (e) {
      thawCgroup(cgroupOf(now));
      throw e;
    }
  } finally {
    closeSync(fd);
  }
}

/** `skiff unpause`. Also the step that lets a signal reach a paused container. */
export function unpause(rec: ContainerRecord, { quiet = false } = {}): void {
  const fd = acquire(lockName(rec.Id));
  try {
    const now = store.read(rec.Id);
    if (!now.State.Running || (!now.State.Paused && !isFrozen(now))) {
      if (quiet) return;
      throw new SkiffError(`Container ${now.Id} is not paused`, 1);
    }
    try {
      thawCgroup(cgroupOf(now));
    } catch (e) {
      // rm -f: the container was killed and its monitor may have removed the cgroup meanwhile.
      if (quiet && errno(e) === 'ENOENT') return;
      throw e;
    }
    store.update(now.Id, (r) => { r.State.Paused = false; r.State.Status = 'running'; });
  } finally {
    closeSync(fd);
  }
}
