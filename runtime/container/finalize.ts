// After PID 1 exits: record the exit status, and release what only a running
// container holds. Apart from start.ts, so that verbs that may finalize a
// container whose monitor died (ps, inspect, stop, rm...) load only this.
import { destroyCgroup } from '../cgroups/destroy.js';
import { oomKilled } from '../cgroups/status.js';
import { releaseNetwork } from '../network/index.js';
import { cgroupOf } from './cgroup.js';
import type { ContainerRecord } from './model.js';
import { unmountRootfs } from './rootfs.js';
import { exitedView, writeExitRecord } from './exit-record.js';
import * as store from './store.js';

/**
 * Records the exit, then releases what only a running container needs: the
 * cgroup (after reading its OOM counter) and the overlay mount. The upper dir
 * stays, so a restart finds its files.
 */
export function finalize(id: string, exitCode: number, error = ''): ContainerRecord | undefined {
  let rec: ContainerRecord;
  try {
    rec = store.read(id);
  } catch {
    return undefined; // removed meanwhile (rm -f)
  }
  const cg = cgroupOf(rec);
  const oom = oomKilled(cg);
  try {
    destroyCgroup(cg);
  } catch {
    // processes that outlive PID 1 are killed by the kernel with the pid namespace
  }
  unmountRootfs(id);
  releaseNetwork(id);
  const exit = { ExitCode: exitCode, Error: error, OOMKilled: oom, FinishedAt: new Date().toISOString() };
  try {
    writeExitRecord(id, exit); // in place: works on a full disk
  } catch {
    // removed meanwhile, or started before exit records existed
  }
  try {
    return store.update(id, (r) => {
      r.State = { ...r.State, Status: 'exited', Running: false, Paused: false, Pid: 0, ...exit };
      r.Skiff.MonitorPid = 0;
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      process.stderr.write(`skiff: container ${id.slice(0, 12)} exited with ${exitCode}, but its state could not be saved: no space left on device; ps, inspect and wait report the saved exit status, and the state is saved once space is free\n`);
      return exitedView(rec, exit);
    }
    return undefined;
  }
}

