// stop, kill, wait, rm, and keeping `ps` truthful when a monitor has died.
import { existsSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { paths } from '../util/paths.js';
import { destroyCgroup, killAll } from '../cgroups/destroy.js';
import { SkiffError } from '../util/errors.js';
import { parseSignal } from '../util/numbers.js';
import { isSameProcess, sleep } from '../util/proc.js';
import type { ContainerRecord } from './model.js';
import { unmountRootfs } from './rootfs.js';
import { releaseNetwork } from '../network/index.js';
import { cgroupOf } from './cgroup.js';
import { finalize } from './finalize.js';
import { heal, unpause } from './pause.js';
import { exitedView, readExitRecord } from './exit-record.js';
import * as store from './store.js';
import { removeAnonymousVolumes } from '../volume/store.js';

/** Exit code recorded when nobody saw the container exit (its monitor was killed). */
const UNKNOWN_EXIT = 255;

export function signalNumber(sig: string | number | undefined, fallback = 'SIGTERM'): number {
  return parseSignal(sig === undefined || sig === '' ? fallback : sig);
}

const monitorAlive = (r: ContainerRecord) => isSameProcess(r.Skiff.MonitorPid, r.Skiff.MonitorStartTime);
const pid1Alive = (r: ContainerRecord) => isSameProcess(r.State.Pid, r.Skiff.PidStartTime);

/**
 * The record as it really is. A record that says "running" while both PID 1
 * and its monitor are gone was orphaned (e.g. the monitor got SIGKILL): it is
 * finalized here, so ps shows no ghost.
 */
export function refresh(rec: ContainerRecord): ContainerRecord {
  if (!rec.State.Running) return rec;
  // Exited, but state.json could not be updated then (full disk): apply the saved status now.
  const exit = readExitRecord(rec.Id);
  if (exit && exit.FinishedAt >= rec.State.StartedAt) {
    try {
      return store.update(rec.Id, (r) => Object.assign(r, exitedView(r, exit)));
    } catch {
      return exitedView(rec, exit);
    }
  }
  if (pid1Alive(rec) || monitorAlive(rec)) return heal(rec);
  const done = finalize(rec.Id, UNKNOWN_EXIT, 'container exited while its monitor was not running; exit status unknown') ?? rec;
  if (!done.HostConfig.AutoRemove) return done;
  // Its --rm died with the monitor: finalize released the rest.
  store.removeDir(done.Id);
  return { ...done, State: { ...done.State, Status: 'removing' } };
}

export function findLive(ref: string): ContainerRecord {
  return refresh(store.find(ref));
}

export function kill(rec: ContainerRecord, signal: string | number = 'SIGKILL'): void {
  rec = refresh(rec);
  if (!rec.State.Running) throw new SkiffError(`cannot kill container: ${rec.Id.slice(0, 12)}: container ${rec.Id} is not running`, 1);
  const sig = signalNumber(signal);
  if (sig === constants.signals.SIGKILL && killCgroup(rec)) return;
  try {
    process.kill(rec.State.Pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
  // A frozen process takes no signal, not even SIGKILL (v1 freezer): as in
  // Docker, a paused container is unpaused so that the signal lands.
  if (rec.State.Paused) unpause(rec, { quiet: true });
}

/**
 * SIGKILL for the whole container at once: cgroup.kill where the kernel has
 * it (v2 core file, Linux >= 5.14; skiff gives every container a cgroup2
 * directory), else freeze, signal every task, thaw. false if the cgroup is gone.
 */
function killCgroup(rec: ContainerRecord): boolean {
  try {
    const cg = cgroupOf(rec);
    // killAll finds no processes in a directory that is not there: that is no kill.
    if (!cg.hierarchies.some((h) => existsSync(h.dir))) return false;
    killAll(cg);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the container is no longer running; false on timeout. */
export async function waitStopped(id: string, timeoutMs = Infinity): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let rec: ContainerRecord;
    try {
      rec = store.read(id);
    } catch {
      return true; // removed
    }
    if (!rec.State.Running) return true;
    const exit = readExitRecord(rec.Id);
    if (exit && exit.FinishedAt >= rec.State.StartedAt) return true; // saved in place; refresh() applies it
    if (!pid1Alive(rec) && !monitorAlive(rec)) {
      refresh(rec);
      return true;
    }
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

/** SIGTERM (or the image's StopSignal), then SIGKILL after `timeoutSec`. */
export async function stop(rec: ContainerRecord, timeoutSec = 10): Promise<void> {
  rec = refresh(rec);
  if (!rec.State.Running) return;
  const sendTo = (sig: number) => {
    try {
      process.kill(rec.State.Pid, sig);
    } catch {
      // exited meanwhile
    }
  };
  sendTo(signalNumber(rec.Config.StopSignal));
  if (rec.State.Paused) unpause(rec, { quiet: true });
  if (await waitStopped(rec.Id, timeoutSec * 1000)) return;
  sendTo(constants.signals.SIGKILL);
  await waitStopped(rec.Id);
}

/** What follows a container's exit, wherever it is seen: the exit record and state, cleanup, and --rm's removal. */
export async function finishRun(id: string, code: number): Promise<void> {
  rmSync(join(paths.container(id), 'tty.sock'), { force: true }); // skiff-shim listened there (see loggedIo)
  const done = finalize(id, code);
  if (done?.HostConfig.AutoRemove) await remove(done);
}

/** rm [-f] [-v]: -v (and --rm's own removal) also removes the container's anonymous volumes. */
export async function remove(rec: ContainerRecord, force = false, volumes = false): Promise<void> {
  rec = refresh(rec);
  if (rec.State.Running) {
    if (!force && rec.State.Paused) {
      throw new SkiffError(`cannot remove container "${rec.Name}": container is paused and must be unpaused first: unpause and stop it, or force remove`, 1);
    }
    if (!force) {
      throw new SkiffError(`cannot remove container "${rec.Name}": container is running: stop the container before removing or force remove`, 1);
    }
    if (!killCgroup(rec)) {
      try {
        process.kill(rec.State.Pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (rec.State.Paused) unpause(rec, { quiet: true });
    await waitStopped(rec.Id, 10_000);
    // The monitor writes the exit record first and the state file last (a
    // rename into the directory): removing the directory in between fails
    // with ENOTEMPTY. Give it a moment to finish.
    const deadline = Date.now() + 3000;
    while (monitorAlive(rec) && Date.now() < deadline) await sleep(10);
  }
  // Idempotent cleanup of anything a crashed start or monitor left behind.
  try {
    destroyCgroup(cgroupOf(rec));
  } catch {
    // nothing to destroy
  }
  unmountRootfs(rec.Id);
  releaseNetwork(rec.Id);
  store.removeDir(rec.Id);
  if (volumes || rec.HostConfig.AutoRemove) removeAnonymousVolumes(rec.HostConfig.Binds);
}
