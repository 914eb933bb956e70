// The detached monitor: `skiff run -d` and `skiff start` spawn this as its
// own session (setsid), so the container outlives the command that started
// it. It starts the container, reports "started" (or the error) on fd 3 to
// the launcher, then waits for PID 1, writes the log, and records the exit.
//
//   node monitor.js CONTAINER_ID
//   node monitor.js --standby [--notify FD]   (the id comes on stdin later; see StandbyMonitor)
import { closeSync, existsSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { monitorShim } from '../../native-bindings/helper.js';
import { dup2, execve, setCloexec } from '../../native-bindings/libc.js';
import { paths } from '../util/paths.js';
import { mark } from '../util/trace.js';
import { stageScript } from '../util/install.js';
import { loggedIo } from './io.js';
import { containerPty } from './pty.js';
import { finishRun } from './lifecycle.js';
import { startContainer } from './start.js';
import * as store from './store.js';
import { startProxies } from '../network/index.js';
import { handOverPorts } from '../network/proxy.js';
import { stopExplaining } from '../teach/explain.js';

export interface MonitorReport { ok: boolean; pid?: number; error?: string; code?: number }

function report(msg: MonitorReport): void {
  try {
    writeSync(3, JSON.stringify(msg) + '\n');
    closeSync(3);
  } catch {
    // the launcher is gone; the container runs on regardless
  }
}

function hasPublishedPorts(rec: ReturnType<typeof store.read>): boolean {
  return Object.keys(rec.HostConfig.PortBindings ?? {}).length > 0 || !!rec.HostConfig.PublishAllPorts;
}

/** notifyFd: the service's socket; skiff-shim asks it to finalize at the exit (see skiff-shim.c). */
async function main(id: string, notifyFd?: number): Promise<number> {
  for (const sig of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(sig, () => {});
  const rec = store.read(id);
  const io = loggedIo(rec, () => containerPty(id, rec.Skiff.Userns));
  let started;
  try {
    started = await startContainer(id, io.stdio);
  } catch (e) {
    await io.finish(); // closes the terminal and the attach sockets (see loggedIo)
    stopExplaining();
    const err = e as Error & { exitCode?: number };
    report({ ok: false, error: err.message, code: err.exitCode ?? 125 });
    return 1;
  }
  // The launcher's stderr must not stay open here: it would wait for its EOF.
  stopExplaining();
  const current = store.read(id);
  // Published ports' sockets go along: skiff-shim relays them (TCP and UDP).
  const ports = hasPublishedPorts(current) ? handOverPorts(id) : [];
  if (ports && io.handOver && existsSync(monitorShim())) {
    // Nothing left that needs Node: become skiff-shim (same pid, so the
    // container stays our child) to copy the output into the log, relay the
    // published ports and wait.
    const fds = io.handOver();
    // Node marks inherited descriptors close-on-exec; the shim needs this one.
    if (notifyFd !== undefined) setCloexec(notifyFd, false);
    report({ ok: true, pid: started.pid });
    execve(monitorShim(), [
      'skiff-shim', String(started.pid), rec.LogPath, String(fds.out), String(fds.err), String(fds.holds[0]), String(fds.holds[1]),
      ...ports, ...(fds.attach >= 0 ? [`attach:${fds.attach}`] : []), ...(fds.listen >= 0 ? [`listen:${fds.listen}`] : []),
      ...(notifyFd !== undefined ? [`notify:${notifyFd}`] : []), '--', process.execPath, stageScript('monitor'), '--finalize', id,
    ], [`SKIFF_ROOT=${process.env.SKIFF_ROOT ?? ''}`, `PATH=${process.env.PATH ?? ''}`]);
  }
  io.started();
  // This Node monitor finalizes itself: the service's socket has nothing to say.
  if (notifyFd !== undefined) closeSync(notifyFd);
  // Published ports' userland proxies live exactly as long as this monitor.
  const proxies = startProxies(current);
  report({ ok: true, pid: started.pid });
  const code = await started.wait();
  proxies.close();
  await io.finish();
  await finishRun(id, code);
  return 0;
}

/**
 * Waits (blocking: there is nothing else to do) for the container id on
 * stdin, then points stdout and stderr at that container's monitor.log and
 * stdin at /dev/null, as a monitor started for that container would have them.
 */
function standbyId(): string | undefined {
  const buf = Buffer.alloc(128);
  let text = '';
  while (!text.includes('\n')) {
    let n: number;
    try {
      n = readSync(0, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return undefined;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      continue;
    }
    if (n === 0) break;
    text += buf.subarray(0, n).toString();
  }
  const id = text.trim();
  if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
  const log = openSync(join(paths.container(id), 'monitor.log'), 'a');
  const devnull = openSync('/dev/null', 'r');
  dup2(devnull, 0);
  dup2(log, 1);
  dup2(log, 2);
  closeSync(log);
  closeSync(devnull);
  return id;
}

const args = process.argv.slice(2);
let run: Promise<number>;
// After skiff-shim: record the exit the shim saw, then clean up as the monitor would have.
if (args[0] === '--finalize') run = finishRun(args[1], Number(args[2])).then(() => 0);
else if (args[0] === '--standby') {
  const id = standbyId();
  mark('standby-taken');
  run = id ? main(id, args[1] === '--notify' ? Number(args[2]) : undefined) : Promise.resolve(0);
} else run = main(args[0]);
run.then((code) => process.exit(code), (e) => {
  process.stderr.write(`skiff monitor: ${(e as Error).stack}\n`);
  process.exit(1);
});
