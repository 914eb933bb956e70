// Running a created container in the foreground or in the background: the
// library behind `run`, `start` and `restart`.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError } from '../util/errors.js';
import { mark } from '../util/trace.js';
import { stageScript } from '../util/install.js';
import { paths } from '../util/paths.js';
import { attachedIo } from './io.js';
import { containerPty } from './pty.js';
import { remove } from './lifecycle.js';
import type { MonitorReport } from './monitor.js';
import { finalize, startContainer } from './start.js';
import * as store from './store.js';
import { startProxies } from '../network/index.js';
import { explain, explaining } from '../teach/explain.js';
import * as narrate from '../teach/narrate.js';
import { rootfsDirs } from './rootfs.js';

const monitorScript = stageScript('monitor');

/** Signals a foreground run passes on to the container, as `docker run --sig-proxy` does. */
const PROXIED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

/**
 * Starts the container with this process as its monitor and the user's
 * terminal attached; returns the container's exit code.
 */
export async function runAttached(id: string): Promise<number> {
  const rec = store.read(id);
  const io = attachedIo({
    tty: rec.Config.Tty, interactive: rec.Config.OpenStdin, logPath: rec.LogPath, pty: () => containerPty(id, rec.Skiff.Userns),
  });
  let started;
  try {
    started = await startContainer(id, io.stdio);
  } catch (e) {
    await io.finish();
    throw e;
  }
  io.started();
  // Published ports' userland proxies live exactly as long as this monitor.
  const proxies = startProxies(store.read(id));
  const handlers = PROXIED.filter((s) => !(rec.Config.Tty && s === 'SIGWINCH')).map((sig) => {
    const h = () => {
      try {
        process.kill(started.pid, sig);
      } catch {
        // exited
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  const code = await started.wait();
  mark('exited');
  for (const [sig, h] of handlers) process.off(sig, h);
  proxies.close();
  await io.finish();
  const before = explaining() ? store.read(id) : undefined;
  const done = finalize(id, code);
  if (done?.HostConfig.AutoRemove) await remove(done);
  explain(() => before && narrate.exitStep(id, code, !!done?.State.OOMKilled,
    narrate.cleanupLines(before, rootfsDirs(id).merged, done?.HostConfig.AutoRemove ? paths.container(id) : undefined)));
  return done?.State.OOMKilled ? 137 : code;
}

/** Starts the container under a detached monitor process; resolves once it runs. */
export async function runDetached(id: string): Promise<void> {
  const logFd = openSync(join(paths.container(id), 'monitor.log'), 'a');
  // --explain: the monitor narrates on our stderr (its fd 4) until the container runs.
  const child = spawn(process.execPath, [monitorScript, id], {
    detached: true,
    stdio: ['ignore', logFd, logFd, 'pipe', ...(explaining() ? [2] : [])],
    ...(explaining() ? { env: { ...process.env, SKIFF_EXPLAIN_FD: '4' } } : {}),
  });
  closeSync(logFd);
  const text = await readAll(child.stdio[3] as Readable);
  child.unref();
  let report: MonitorReport;
  try {
    report = JSON.parse(text) as MonitorReport;
  } catch {
    throw new SkiffError(`the container monitor exited before starting the container; see ${join(paths.container(id), 'monitor.log')}`);
  }
  if (!report.ok) throw new SkiffError(report.error ?? 'start failed', report.code ?? 125);
  explain(() => report.pid ? narrate.detachedStep(id, report.pid, child.pid) : undefined);
}

function readAll(s: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('end', () => resolve(text));
    s.on('error', () => resolve(text));
  });
}
