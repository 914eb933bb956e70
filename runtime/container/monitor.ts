// The detached monitor: `skiff run -d` and `skiff start` spawn this as its
// own session (setsid), so the container outlives the command that started
// it. It starts the container, reports "started" (or the error) on fd 3 to
// the launcher, then waits for PID 1, writes the log, and records the exit.
//
//   node monitor.js CONTAINER_ID
import { closeSync, writeSync } from 'node:fs';
import { loggedIo } from './io.js';
import { remove } from './lifecycle.js';
import { finalize, startContainer } from './start.js';
import * as store from './store.js';
import { startProxies } from '../network/index.js';

export interface MonitorReport { ok: boolean; pid?: number; error?: string; code?: number }

function report(msg: MonitorReport): void {
  try {
    writeSync(3, JSON.stringify(msg) + '\n');
    closeSync(3);
  } catch {
    // the launcher is gone; the container runs on regardless
  }
}

async function main(id: string): Promise<number> {
  for (const sig of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(sig, () => {});
  const rec = store.read(id);
  const io = loggedIo(rec);
  let started;
  try {
    started = await startContainer(id, io.stdio);
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    report({ ok: false, error: err.message, code: err.exitCode ?? 125 });
    return 1;
  }
  io.started();
  // Published ports' userland proxies live exactly as long as this monitor.
  const proxies = startProxies(store.read(id));
  report({ ok: true, pid: started.pid });
  const code = await started.exited;
  proxies.close();
  await io.finish();
  const done = finalize(id, code);
  if (done?.HostConfig.AutoRemove) await remove(done);
  return 0;
}

main(process.argv[2]).then((code) => process.exit(code), (e) => {
  process.stderr.write(`skiff monitor: ${(e as Error).stack}\n`);
  process.exit(1);
});
