// The container's stdio, in the two ways a monitor can hold it:
//  - attached: a foreground `run` (or `start -a`) hands over its own fds, or
//    relays a pty to the user's terminal;
//  - logged: a detached monitor collects stdout/stderr into the json log.
import { closeSync, constants, createReadStream, createWriteStream, existsSync, openSync, read, rmSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { close, connectUnix, listenUnix, pipe, setCloexec, setNonblock, setWinsize } from '../../native-bindings/libc.js';
import { writeFully } from '../util/out.js';
import { LogWriter, type StreamName } from './logs.js';
import type { ContainerRecord } from './model.js';
import type { Pty } from './pty.js';
import type { Stdio } from './start.js';

/** The descriptors a detached monitor hands to skiff-shim (see monitor.ts). */
export interface ShimFds {
  out: number; err: number; holds: [number, number];
  /** With a tty: a client attached before the start, and the socket where later ones attach (see loggedIo); or -1. */
  attach: number; listen: number;
}

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
  const s = createReadStream('', { fd: master, autoClose: false, highWaterMark: 64 * 1024 });
  s.on('error', () => {}); // EIO is the end; ended() and the log's follow() see it
  return s;
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

/**
 * A pty's master relayed: what the terminal says goes to `output` (and the
 * log), what `input` sends is typed into it, so echo, line editing and ^C/^D
 * are the terminal's line discipline's. Used by the CLI's foreground -t, its
 * exec -t, the Engine API's Tty exec and a detached monitor's attached client.
 */
export function ptyRelay(pty: Pty, { output, input, log }: { output?: Writable; input?: Readable; log?: LogWriter }) {
  let out: Readable | undefined;
  let following: Promise<void> = Promise.resolve();
  const typed = createWriteStream('', { fd: pty.master, autoClose: false });
  typed.on('error', () => {}); // the master closed under a late keystroke
  const inputs = input ? [input] : [];
  const clients = new Set<Socket>();
  return {
    start(): void {
      pty.release();
      out = masterReader(pty.master);
      if (output) {
        out.pipe(output, { end: false });
        // Node pauses a source whose last pipe goes (the client hung up): the
        // log and the pty must keep flowing, or the command blocks on a full
        // terminal and finish() waits for an end that never comes.
        output.once('close', () => out?.resume());
      }
      if (log) following = log.follow('stdout', out);
      input?.pipe(typed, { end: false });
    },
    /** One more client on the terminal, after the start (`docker attach`). */
    attach(conn: Socket): void {
      if (!out) return void conn.destroy();
      conn.on('error', () => {});
      out.pipe(conn, { end: false });
      conn.pipe(typed, { end: false });
      inputs.push(conn);
      clients.add(conn);
      conn.once('close', () => {
        out?.unpipe(conn);
        out?.resume(); // see start()
        conn.unpipe(typed);
        inputs.splice(inputs.indexOf(conn), 1);
        clients.delete(conn);
      });
    },
    /** After the command exited: delivers what is left, then closes both ends. */
    async finish(): Promise<void> {
      pty.release();
      // The slave was held open so that no output is lost when a fast
      // command exits; once the master is quiet, closing it ends the stream (EIO).
      if (out) {
        out.resume(); // a client that stopped reading must not hold the end back
        await quiesce(out);
      }
      closeSync(pty.slave);
      if (out) await ended(out);
      await following;
      for (const i of inputs) i.unpipe(typed);
      close(pty.master);
      for (const c of clients) c.end(); // they have had all of it: EOF ends their attach

    },
  };
}

/** A process's stdio on a pty relayed to `output`, with `input` typed into it (the Engine API's Tty exec). */
export function relayedPtyIo(pty: Pty, streams: { output: Writable; input?: Readable }): ContainerIo {
  const relay = ptyRelay(pty, streams);
  return { stdio: ptyStdio(pty), started: () => relay.start(), finish: () => relay.finish() };
}

export interface AttachMode {
  tty: boolean;
  interactive: boolean;
  /** With tty: allocates the terminal (see pty.ts). */
  pty?: () => Pty;
  /** Also write stdout/stderr to this json log (a container's own run, not exec). */
  logPath?: string;
}

export function ptyStdio(pty: Pty): Stdio {
  return { fds: [pty.slave, pty.slave, pty.slave], ttyPath: pty.slavePath ?? pty.name, devpts: pty.devpts };
}

/**
 * Copies FD to DEST (1 or 2) and into the log; resolves at EOF, with FD
 * closed. A loop of read(2)s on libuv's pool: an fs read stream would load
 * fs/promises and readline with it, ~4 ms of every attached `run`.
 */
function relay(fd: number, dest: 1 | 2, log: LogWriter, stream: StreamName): Promise<void> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  // A reader of ours that has gone (`skiff run … | head -1`) still leaves the log complete.
  let destGone = false;
  return new Promise((resolve) => {
    const next = (): void => read(fd, buf, 0, buf.length, null, (err, n) => {
      if (err || n === 0) {
        closeSync(fd);
        log.end(stream);
        resolve();
        return;
      }
      const chunk = buf.subarray(0, n);
      if (!destGone) destGone = !writeFully(dest, chunk);
      log.write(stream, chunk);
      next();
    });
    next();
  });
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
  if (!tty && logPath) {
    const log = new LogWriter(logPath);
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
        done = Promise.all([relay(outR, 1, log, 'stdout'), relay(errR, 2, log, 'stderr')]);
      },
      async finish() {
        dropChildEnds();
        if (done) await done;
        else {
          close(outR);
          close(errR);
        }
        log.close();
      },
    };
  }
  if (!makePty) throw new Error('attachedIo: a tty needs a pty allocator');
  const log = logPath ? new LogWriter(logPath) : undefined;
  const pty = makePty();
  const stdin = process.stdin;
  const resize = () => {
    if (process.stdout.isTTY) setWinsize(pty.master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  const term = ptyRelay(pty, { output: process.stdout, input: interactive ? stdin : undefined, log });
  return {
    stdio: ptyStdio(pty),
    started() {
      if (stdin.isTTY && interactive) stdin.setRawMode(true);
      process.stdout.on('resize', resize);
      term.start();
    },
    async finish() {
      await term.finish();
      process.stdout.off('resize', resize);
      if (stdin.isTTY && interactive) stdin.setRawMode(false);
      stdin.pause();
      log?.close();
    },
  };
}

/**
 * Where a client attached to a Tty container before its start (the Engine
 * API's attach) listens for the holder of the terminal's master: the
 * monitor connects before the command runs, so none of its output is missed.
 */
export function attachSocket(rec: Pick<ContainerRecord, 'LogPath'>): string {
  return join(dirname(rec.LogPath), 'attach.sock');
}

/**
 * A unix socket's name holds at most 107 bytes, less than a container
 * directory under a deep SKIFF_ROOT may need. So it is named through an open
 * descriptor of its directory, /proc/self/fd/N/NAME, as podman's conmon does.
 */
export async function viaDirFd<T>(path: string, fn: (short: string) => T | Promise<T>): Promise<T> {
  const dir = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await fn(`/proc/self/fd/${dir}/${basename(path)}`);
  } finally {
    closeSync(dir);
  }
}
function viaDirFdSync<T>(path: string, fn: (short: string) => T): T {
  const dir = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return fn(`/proc/self/fd/${dir}/${basename(path)}`);
  } finally {
    closeSync(dir);
  }
}

/**
 * Where clients attach to a running Tty container's terminal (`docker
 * attach`): its monitor listens there while the container runs.
 */
export function ttySocket(rec: Pick<ContainerRecord, 'LogPath'>): string {
  return join(dirname(rec.LogPath), 'tty.sock');
}

/** The attached client's connection, or -1 when nobody is attached (or it left). */
function connectAttach(rec: ContainerRecord): number {
  const path = attachSocket(rec);
  if (!existsSync(path)) return -1;
  try {
    return viaDirFdSync(path, connectUnix);
  } catch {
    return -1;
  }
}

/** The listening socket for later clients, or -1 (then only the log shows the terminal). */
function listenTty(rec: ContainerRecord): number {
  const path = ttySocket(rec);
  rmSync(path, { force: true }); // left by an earlier run
  try {
    return viaDirFdSync(path, listenUnix);
  } catch {
    return -1;
  }
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
  if (rec.Config.Tty) {
    const pty = makePty();
    // stdin is the terminal too, with -i or not, as in Docker: typed input
    // comes through the master, from a client attached to it.
    const attach = connectAttach(rec);
    const listening = listenTty(rec);
    let conn: Socket | undefined;
    let server: Server | undefined;
    let relay: ReturnType<typeof ptyRelay> | undefined;
    return {
      stdio: ptyStdio(pty),
      started() {
        if (attach >= 0) {
          conn = new Socket({ fd: attach, readable: true, writable: true });
          conn.on('error', () => {});
        }
        const term = ptyRelay(pty, { output: conn, input: conn, log });
        relay = term;
        term.start();
        if (listening >= 0) {
          server = createServer((c) => term.attach(c));
          server.on('error', () => {});
          server.listen({ fd: listening });
        }
      },
      handOver() {
        pty.release();
        const fds: ShimFds = { out: pty.master, err: -1, holds: [-1, pty.slave], attach, listen: listening };
        for (const fd of [pty.master, pty.slave, attach, listening]) if (fd >= 0) setCloexec(fd, false);
        log.close();
        return fds;
      },
      async finish() {
        // No new clients once the command is gone; those attached get the rest of the output, then EOF.
        server?.close();
        if (!server && listening >= 0) close(listening);
        rmSync(ttySocket(rec), { force: true });
        if (relay) await relay.finish();
        else {
          pty.release();
          closeSync(pty.slave);
          close(pty.master);
          if (attach >= 0) close(attach);
        }
        conn?.end();
        log.close();
      },
    };
  }
  const [inR, inW] = rec.Config.OpenStdin ? openStdin(rec) : [openSync('/dev/null', 'r'), -1];
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
      return { out: outR, err: errR, holds: [inW, -1], attach: -1, listen: -1 };
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
