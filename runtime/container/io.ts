// The container's stdio, in the two ways a monitor can hold it:
//  - attached: a foreground `run` (or `start -a`) hands over its own fds, or
//    relays a pty to the user's terminal;
//  - logged: a detached monitor collects stdout/stderr into the json log.
import { closeSync, constants, createReadStream, createWriteStream, openSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { close, pipe, setCloexec, setNonblock, setWinsize } from '../../native-bindings/libc.js';
import { LogWriter, type StreamName } from './logs.js';
import type { ContainerRecord } from './model.js';
import type { Pty } from './pty.js';
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

export interface AttachMode {
  tty: boolean;
  interactive: boolean;
  /** With tty: allocates the terminal (see pty.ts). */
  pty?: () => Pty;
  /** Also write stdout/stderr to this json log (a container's own run, not exec). */
  logPath?: string;
}

function ptyStdio(pty: Pty, stdin?: number): Stdio {
  return { fds: [stdin ?? pty.slave, pty.slave, pty.slave], ttyPath: pty.slavePath ?? pty.name, devpts: pty.devpts };
}

/** Copies `fd` to `dest` and, if given, into the log; resolves at EOF. */
function relay(fd: number, dest: NodeJS.WriteStream, log: LogWriter | undefined, stream: StreamName): Promise<void> {
  const src = createReadStream('', { fd, highWaterMark: 64 * 1024 });
  const done = log ? log.follow(stream, src) : ended(src);
  src.pipe(dest, { end: false });
  return done;
}

export function attachedIo({ tty, interactive, pty: makePty, logPath }: AttachMode): ContainerIo {
  if (!tty && !logPath) {
    // Hand our own descriptors to the container: no copying, stdout and
    // stderr stay separate, and stdin EOF reaches the command as EOF.
    const devnull = interactive ? -1 : openSync('/dev/null', 'r');
    return {
      stdio: { fds: [interactive ? 0 : devnull, 1, 2] },
      started: () => { if (devnull >= 0) closeSync(devnull); },
      finish: async () => {},
    };
  }
  const log = logPath ? new LogWriter(logPath) : undefined;
  if (!tty) {
    // A container's own foreground run: its output goes to the terminal and
    // into the json log (so `logs NAME` shows it afterwards, as in Docker).
    // stdin is still handed over as is.
    const devnull = interactive ? -1 : openSync('/dev/null', 'r');
    const [outR, outW] = pipe();
    const [errR, errW] = pipe();
    let childEnds = true;
    const dropChildEnds = () => {
      if (!childEnds) return;
      childEnds = false;
      close(outW);
      close(errW);
      if (devnull >= 0) closeSync(devnull);
    };
    let done: Promise<unknown> | undefined;
    return {
      stdio: { fds: [interactive ? 0 : devnull, outW, errW] },
      started() {
        dropChildEnds();
        done = Promise.all([relay(outR, process.stdout, log, 'stdout'), relay(errR, process.stderr, log, 'stderr')]);
      },
      async finish() {
        dropChildEnds();
        if (done) await done;
        else {
          close(outR);
          close(errR);
        }
        log?.close();
      },
    };
  }
  if (!makePty) throw new Error('attachedIo: a tty needs a pty allocator');
  const pty = makePty();
  const stdin = process.stdin;
  const resize = () => {
    if (process.stdout.isTTY) setWinsize(pty.master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  let out: Readable | undefined;
  let following: Promise<void> = Promise.resolve();
  return {
    stdio: ptyStdio(pty),
    started() {
      pty.release();
      if (stdin.isTTY && interactive) stdin.setRawMode(true);
      process.stdout.on('resize', resize);
      out = masterReader(pty.master);
      out.pipe(process.stdout, { end: false });
      if (log) following = log.follow('stdout', out);
      if (interactive) stdin.pipe(createWriteStream('', { fd: pty.master, autoClose: false }));
    },
    async finish() {
      pty.release();
      // The parent held the slave open so that no output is lost when a fast
      // command exits; once the master is quiet, closing it ends the stream (EIO).
      if (out) await quiesce(out);
      closeSync(pty.slave);
      if (out) await ended(out);
      await following;
      process.stdout.off('resize', resize);
      if (stdin.isTTY && interactive) stdin.setRawMode(false);
      stdin.unpipe();
      stdin.pause();
      close(pty.master);
      log?.close();
    },
  };
}

/** Where a client attached before the start writes the container's stdin (see the Engine API's attach). */
export function stdinFifo(rec: Pick<ContainerRecord, 'LogPath'>): string {
  return join(dirname(rec.LogPath), 'stdin.fifo');
}

/**
 * -i: the container's stdin. When a client is attached (stdin.fifo exists,
 * held open by it), the FIFO, once: the client closing it is the command's EOF.
 * Else a pipe whose write end the monitor holds: open and empty, as
 * `docker run -di` leaves it.
 */
function openStdin(rec: ContainerRecord): [number, number] {
  const fifo = stdinFifo(rec);
  let fd: number;
  try {
    // Non-blocking only for the open, which would otherwise wait for a writer.
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return pipe();
  }
  setNonblock(fd, false);
  rmSync(fifo, { force: true });
  return [fd, -1];
}

export function loggedIo(rec: ContainerRecord, makePty: () => Pty): ContainerIo {
  const log = new LogWriter(rec.LogPath);
  const [inR, inW] = rec.Config.OpenStdin ? openStdin(rec) : [openSync('/dev/null', 'r'), -1];
  if (rec.Config.Tty) {
    const pty = makePty();
    let out: Readable | undefined;
    let following: Promise<void> = Promise.resolve();
    return {
      stdio: ptyStdio(pty, rec.Config.OpenStdin ? inR : undefined),
      started() {
        pty.release();
        out = masterReader(pty.master);
        following = log.follow('stdout', out);
      },
      handOver() {
        pty.release();
        const fds: ShimFds = { out: pty.master, err: -1, holds: [inW, pty.slave] };
        for (const fd of [pty.master, inW, pty.slave]) if (fd >= 0) setCloexec(fd, false);
        log.close();
        return fds;
      },
      async finish() {
        pty.release();
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
