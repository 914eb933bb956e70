// The container's stdio, in the two ways a monitor can hold it:
//  - attached: a foreground `run` (or `start -a`) hands over its own fds, or
//    relays a pty to the user's terminal;
//  - logged: a detached monitor collects stdout/stderr into the json log.
import { closeSync, createReadStream, createWriteStream, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { close, O_NOCTTY, O_RDWR, openpt, pipe, setCloexec, setWinsize } from '../../native-bindings/libc.js';
import { LogWriter } from './logs.js';
import type { ContainerRecord } from './model.js';
import type { Stdio } from './start.js';

/** The descriptors a detached monitor hands to skiff-shim (see monitor.ts). */
export interface ShimFds { out: number; err: number; holds: [number, number] }

export interface ContainerIo {
  stdio: Stdio;
  /** Instead of started(): drop the child's ends and give the reading ends away (close-on-exec cleared). */
  handOver?(): ShimFds;
  /** Call once the container runs: drop the parent's copies of the child's ends, start relaying. */
  started(): void;
  /** Call after PID 1 exited: resolves when all output was delivered. */
  finish(): Promise<void>;
}

interface Pty { master: number; slave: number; slavePath: string }

function openPty(): Pty {
  const { master, slavePath } = openpt();
  const slave = openSync(slavePath, O_RDWR | O_NOCTTY);
  return { master, slave, slavePath };
}

/** Reads a pty master until EIO, which is how a pty says "no slave is open any more". */
function masterReader(master: number): Readable {
  return createReadStream('', { fd: master, autoClose: false, highWaterMark: 64 * 1024 });
}

/**
 * The pty delivers a writer's bytes to the master through a kernel work
 * queue, so right after the command exits some output can still be in
 * flight; closing the slave then would hang the line up and drop it. So: wait
 * until the master has been quiet for a moment (slave still open), then close.
 */
async function quiesce(s: Readable, quietMs = 25, maxMs = 2000): Promise<void> {
  let last = Date.now();
  const onData = () => { last = Date.now(); };
  s.on('data', onData);
  const start = Date.now();
  while (Date.now() - last < quietMs && Date.now() - start < maxMs) await new Promise((r) => setTimeout(r, 5));
  s.off('data', onData);
}

function ended(s: Readable): Promise<void> {
  return new Promise((resolve) => {
    s.on('end', resolve);
    s.on('error', () => resolve());
    s.on('close', resolve);
  });
}

export interface AttachMode { tty: boolean; interactive: boolean }

export function attachedIo({ tty, interactive }: AttachMode): ContainerIo {
  if (!tty) {
    // Hand our own descriptors to the container: no copying, stdout and
    // stderr stay separate, and stdin EOF reaches the command as EOF.
    const devnull = interactive ? -1 : openSync('/dev/null', 'r');
    return {
      stdio: { fds: [interactive ? 0 : devnull, 1, 2] },
      started: () => { if (devnull >= 0) closeSync(devnull); },
      finish: async () => {},
    };
  }
  const pty = openPty();
  const stdin = process.stdin;
  const resize = () => {
    if (process.stdout.isTTY) setWinsize(pty.master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  let out: Readable | undefined;
  return {
    stdio: { fds: [pty.slave, pty.slave, pty.slave], ttyPath: pty.slavePath },
    started() {
      if (stdin.isTTY && interactive) stdin.setRawMode(true);
      process.stdout.on('resize', resize);
      out = masterReader(pty.master);
      out.pipe(process.stdout, { end: false });
      if (interactive) stdin.pipe(createWriteStream('', { fd: pty.master, autoClose: false }));
    },
    async finish() {
      // The parent held the slave open so that no output is lost when a fast
      // command exits; once the master is quiet, closing it ends the stream (EIO).
      if (out) await quiesce(out);
      closeSync(pty.slave);
      if (out) await ended(out);
      process.stdout.off('resize', resize);
      if (stdin.isTTY && interactive) stdin.setRawMode(false);
      stdin.unpipe();
      stdin.pause();
      close(pty.master);
    },
  };
}

export function loggedIo(rec: ContainerRecord): ContainerIo {
  const log = new LogWriter(rec.LogPath);
  // -i without a terminal: keep stdin open (and empty) as `docker run -di` does.
  const [inR, inW] = rec.Config.OpenStdin ? pipe() : [openSync('/dev/null', 'r'), -1];
  if (rec.Config.Tty) {
    const pty = openPty();
    let out: Readable | undefined;
    let following: Promise<void> = Promise.resolve();
    return {
      stdio: { fds: [rec.Config.OpenStdin ? inR : pty.slave, pty.slave, pty.slave], ttyPath: pty.slavePath },
      started() {
        out = masterReader(pty.master);
        following = log.follow('stdout', out);
      },
      handOver() {
        const fds: ShimFds = { out: pty.master, err: -1, holds: [inW, pty.slave] };
        for (const fd of [pty.master, inW, pty.slave]) if (fd >= 0) setCloexec(fd, false);
        log.close();
        return fds;
      },
      async finish() {
        if (out) await quiesce(out);
        closeSync(pty.slave);
        await following;
        close(pty.master);
        if (inW >= 0) close(inW);
        log.close();
      },
    };
  }
  const [outR, outW] = pipe();
  const [errR, errW] = pipe();
  let done: Promise<unknown> = Promise.resolve();
  return {
    stdio: { fds: [inR, outW, errW] },
    handOver() {
      close(inR);
      close(outW);
      close(errW);
      for (const fd of [outR, errR, inW]) if (fd >= 0) setCloexec(fd, false);
      log.close();
      return { out: outR, err: errR, holds: [inW, -1] };
    },
    started() {
      close(inR);
      close(outW);
      close(errW);
      done = Promise.all([
        log.follow('stdout', createReadStream('', { fd: outR })),
        log.follow('stderr', createReadStream('', { fd: errR })),
      ]);
    },
    async finish() {
      await done;
      if (inW >= 0) close(inW);
      log.close();
    },
  };
}
