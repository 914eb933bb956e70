// Terminals over the Engine API: window sizes (resize, ConsoleSize), and a
// client attached to a Tty container's terminal (`docker run -it`).
import { existsSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { attachSocket, ttySocket, viaDirFd } from '../container/io.js';
import type { ContainerRecord } from '../container/model.js';
import { RunWatch } from './follow.js';
import { ApiError, type Ctx } from './router.js';
import { endStream, openStream } from './stream.js';

/** A ConsoleSize [height, width] of a create or exec start body; [0, 0] means unset. */
export function consoleSize(v: unknown): [number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [h, w] = v.map(Number);
  return h > 0 && w > 0 && h <= 0xffff && w <= 0xffff ? [h, w] : undefined;
}

/** ?h=&w= of a resize, with the daemon's wording for what does not parse. */
export function sizeParams(c: Ctx): [number, number] {
  return (['h', 'w'] as const).map((key) => {
    const v = c.query.get(key) ?? '';
    if (!/^[+-]?\d+$/.test(v)) throw new ApiError(400, `strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
    const n = Number(v);
    if (n < 0 || n > 0xffff) throw new ApiError(400, `invalid terminal size ${key}=${v}: it must be between 0 and 65535`);
    return n;
  }) as [number, number];
}

/** Nobody listens on a socket file a killed service left behind. */
function stale(path: string): Promise<boolean> {
  return viaDirFd(path, (short) => new Promise<boolean>((resolve) => {
    const s = createConnection(short);
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  }));
}

/**
 * Listens on the container's attach.sock for the monitor that is about to
 * start it; undefined when another client already waits there (the caller
 * then follows the log, as for a running container).
 */
async function listen(rec: ContainerRecord): Promise<{ server: Server; path: string } | undefined> {
  const path = attachSocket(rec);
  if (existsSync(path)) {
    if (!(await stale(path))) return undefined;
    rmSync(path, { force: true });
  }
  const server = createServer({ pauseOnConnect: true });
  try {
    await viaDirFd(path, (short) => new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(short, () => resolve());
    }));
  } catch {
    server.close();
    return undefined;
  }
  return { server, path };
}

/** The monitor of a running Tty container listens on tty.sock (see loggedIo); undefined if it does not. */
function connectRunning(rec: ContainerRecord): Promise<Socket | undefined> {
  const path = ttySocket(rec);
  if (!existsSync(path)) return Promise.resolve(undefined);
  return viaDirFd(path, (short) => new Promise<Socket | undefined>((resolve) => {
    const s = createConnection(short);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  }));
}

/** ?detachKeys=: Docker's key list ("ctrl-p,ctrl-q", "a", "ctrl-@"), as bytes. */
export function detachKeys(spec: string | null): number[] {
  if (!spec) return [0x10, 0x11];
  return spec.split(',').map((k) => {
    const key = k.trim().toLowerCase();
    if (key.length === 1) return key.charCodeAt(0);
    const m = key.match(/^ctrl-([a-z@[\\\]^_])$/);
    if (!m) throw new ApiError(400, `Invalid detach keys (${spec}) provided`);
    return m[1].charCodeAt(0) & 0x1f;
  });
}

/** Passes keystrokes on until the detach sequence; a partial match is held back until it is decided. */
function detachFilter(keys: number[], onDetach: () => void): (d: Buffer) => Buffer {
  let held: number[] = [];
  let detached = false;
  return (d) => {
    const pass: number[] = [];
    for (const b of d) {
      if (detached) break;
      if (b === keys[held.length]) {
        held.push(b);
        if (held.length === keys.length) {
          detached = true;
          onDetach();
        }
        continue;
      }
      pass.push(...held);
      held = [];
      if (b === keys[0]) held.push(b);
      else pass.push(b);
    }
    return Buffer.from(pass);
  };
}

/**
 * Attaches the client to a Tty container's terminal, live. Docker's daemon
 * copies between the client and the pty master it holds; here the master
 * belongs to the container's monitor (later skiff-shim):
 *  - before the start (`docker run -it` attaches first), this listens on
 *    attach.sock, and the monitor connects before it runs the command, so no
 *    output is missed;
 *  - while it runs (`docker attach`), this connects to the monitor's tty.sock.
 * The connection is then the terminal: its output goes raw to the client, the
 * client's keystrokes go into the master, where the container's line
 * discipline echoes them and turns ^C and ^D into a signal and an EOF. The
 * stream ends when the container exits; a client that leaves, or types the
 * detach keys (ctrl-p ctrl-q), leaves it running. Returns false when there is
 * no terminal to attach to (the caller then follows the log).
 */
export async function attachTerminal(c: Ctx, rec: ContainerRecord, want: { stdin: boolean; stdout: boolean }): Promise<boolean> {
  const h = c.hijack;
  if (!h) return false;
  const keys = detachKeys(c.query.get('detachKeys'));
  const client = h.socket;
  let clientGone = false;
  client.once('close', () => (clientGone = true));
  let out: Duplex;
  let term: Socket | undefined;
  if (rec.State.Running) {
    term = await connectRunning(rec);
    if (!term) return false;
    out = openStream(c.res, h, true) as Duplex;
  } else {
    const l = await listen(rec);
    if (!l) return false;
    const watch = new RunWatch(rec);
    const connected = new Promise<void>((resolve) => l.server.once('connection', (s: Socket) => {
      term = s;
      resolve();
    }));
    out = openStream(c.res, h, true) as Duplex;
    try {
      // Until the monitor connects: or the run is over without it (it failed to start), or the client left.
      await Promise.race([connected, watch.until((s) => s !== 'waiting', () => clientGone || !!term)]);
    } finally {
      l.server.close();
      rmSync(l.path, { force: true });
      watch.close();
    }
  }
  if (!term) {
    endStream(out);
    return true;
  }
  const conn: Socket = term;
  conn.on('error', () => {});
  client.on('error', () => {});
  const ended = new Promise<void>((resolve) => {
    conn.once('close', resolve);
    client.once('close', resolve);
  });
  if (want.stdout) conn.pipe(client, { end: false });
  else conn.resume();
  if (want.stdin) {
    const keystrokes = detachFilter(keys, () => conn.destroy());
    const type = (d: Buffer) => {
      const pass = keystrokes(d);
      if (pass.length && !conn.destroyed) conn.write(pass);
    };
    if (h.head.length) type(h.head);
    client.on('data', type);
    client.resume();
  }
  await ended;
  // The container's exit closed the terminal: the client has had the rest of its output.
  // The client left or detached: the monitor sees the connection go and the container runs on.
  conn.unpipe(client);
  conn.destroy();
  endStream(out);
  return true;
}
