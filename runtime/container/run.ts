// Running a created container in the foreground or in the background: the
// library behind `run`, `start` and `restart`.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { SkiffError } from '../util/errors.js';
import { mark } from '../util/trace.js';
import { stageScript } from '../util/install.js';
import { paths } from '../util/paths.js';
import { attachedIo } from './io.js';
import { containerPty } from './pty.js';
import { remove } from './lifecycle.js';
import type { MonitorReport } from './monitor.js';
import { startContainer } from './start.js';
import { finalize } from './finalize.js';
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

function setNice(child: ChildProcess, nice: number): void {
  try {
    if (child.pid) setPriority(child.pid, nice);
  } catch {
    // exited already
  }
}

/** A monitor process of its own session: it outlives whoever started it. */
function spawnMonitor(args: string[], out: number | 'ignore', stdin: 'ignore' | 'pipe', notify = false): ChildProcess {
  // --explain: the monitor narrates on our stderr (its fd 4) until the container runs.
  const narrating = explaining();
  return spawn(process.execPath, [monitorScript, ...args, ...(notify ? ['--notify', String(NOTIFY_FD)] : [])], {
    detached: true,
    // fd 3: the start report; fd 5 (notify): a socket on which the shim asks us to finalize.
    stdio: [stdin, out, out, 'pipe', ...(narrating ? [2] : notify ? ['ignore' as const] : []), ...(notify ? ['pipe' as const] : [])],
    ...(narrating ? { env: { ...process.env, SKIFF_EXPLAIN_FD: '4' } } : {}),
  });
}

/**
 * One monitor started ahead of need, already past Node's boot, waiting on
 * stdin for the id of the container it is to start. A long-running caller
 * (the Engine API service) keeps one ready, so a start pays no Node boot.
 * If the caller exits first, the standby monitor sees EOF and exits too.
 */
export class StandbyMonitor {
  private ready: ChildProcess | undefined;

  /**
   * onExit: when given, skiff-shim hands each container's exit to it (the
   * caller's warm Node) instead of booting a Node finalizer; see skiff-shim.c.
   */
  constructor(readonly onExit?: (id: string, code: number) => Promise<void>) {}

  private spawn(): ChildProcess {
    const child = spawnMonitor(['--standby'], 'ignore', 'pipe', !!this.onExit);
    child.stdin!.on('error', () => {}); // it died: take() makes another
    // Its boot must not slow the container that is starting or exiting right now.
    setNice(child, 19);
    return child;
  }

  /** Boots the next monitor now, so that the first start does not wait for it. */
  warm(): void {
    this.ready ??= this.spawn();
  }

  take(): ChildProcess {
    const ready = this.ready;
    const alive = ready && ready.exitCode === null && ready.signalCode === null;
    this.ready = this.spawn();
    const child = alive ? ready : this.spawn();
    setNice(child, 0); // the main thread, which starts the container: it inherits this
    return child;
  }

  close(): void {
    this.ready?.stdin?.end();
  }
}

/** Starts the container under a detached monitor process; resolves once it runs. */
export async function runDetached(id: string, standby?: StandbyMonitor): Promise<void> {
  let child: ChildProcess;
  if (standby) {
    child = standby.take();
    child.stdin!.end(`${id}\n`);
  } else {
    const logFd = openSync(join(paths.container(id), 'monitor.log'), 'a');
    child = spawnMonitor([id], logFd, 'ignore');
    closeSync(logFd);
  }
  const text = await readAll(child.stdio[3] as Readable);
  child.unref();
  const notify = (child.stdio as unknown[])[NOTIFY_FD] as Socket | null | undefined;
  if (notify && standby?.onExit) finalizeOnRequest(id, notify, standby.onExit);
  let report: MonitorReport;
  try {
    report = JSON.parse(text) as MonitorReport;
  } catch {
    throw new SkiffError(`the container monitor exited before starting the container; see ${join(paths.container(id), 'monitor.log')}`);
  }
  if (!report.ok) throw new SkiffError(report.error ?? 'start failed', report.code ?? 125);
  explain(() => report.pid ? narrate.detachedStep(id, report.pid, child.pid) : undefined);
}

const NOTIFY_FD = 5;

/**
 * skiff-shim writes the exit code on the socket and waits: answered "done",
 * it exits; if the socket closes first (this process died, or the cleanup
 * failed), it runs the Node finalizer itself.
 */
function finalizeOnRequest(id: string, sock: Socket, onExit: (id: string, code: number) => Promise<void>): void {
  let text = '';
  sock.on('error', () => {});
  sock.unref(); // a waiting container must not keep this process alive
  sock.on('data', (d: Buffer) => {
    text += d.toString();
    if (!text.includes('\n')) return;
    sock.removeAllListeners('data');
    mark('exit-reported');
    onExit(id, Number(text.trim())).then(() => {
      mark('finalized');
      sock.end('done\n');
    }, () => sock.destroy());
  });
}

function readAll(s: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('end', () => resolve(text));
    s.on('error', () => resolve(text));
  });
}
