// Terminals over the Engine API: window sizes (resize, ConsoleSize), and a
// client attached to a Tty container's terminal (`docker run -it`).
import { existsSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { attachSocket, viaDirFd } from '../container/io.js';
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

/**
 * Attaches the client to the terminal of a Tty container that has not
 * started yet, which is how `docker run -it` attaches. Docker's daemon
 * copies between the client and the pty master it holds; here the master
 * belongs to the container's monitor (later skiff-shim), which connects to
 * this listener before it runs the command, so no output is missed. From then
 * on the connection is the terminal: its output goes raw to the client, the
 * client's keystrokes go into the master, where the container's line
 * discipline echoes them and turns ^C and ^D into a signal and an EOF.
 * The stream ends when the container exits; a client that leaves (detach)
 * leaves the container running. Returns false when it cannot (the caller
 * then follows the log).
 */
export async function attachTerminal(c: Ctx, rec: ContainerRecord, want: { stdin: boolean; stdout: boolean }): Promise<boolean> {
  const h = c.hijack;
  if (!h) return false;
  const l = await listen(rec);
  if (!l) return false;
  const client = h.socket;
  const watch = new RunWatch(rec);
  let conn: Socket | undefined;
  let clientGone = false;
  client.once('close', () => (clientGone = true));
  const connected = new Promise<void>((resolve) => l.server.once('connection', (s: Socket) => {
    conn = s;
    resolve();
  }));
  const out: Duplex = openStream(c.res, h, true) as Duplex;
  try {
    // Until the monitor connects: or the run is over without it (it failed to start), or the client left.
    await Promise.race([connected, watch.until((s) => s !== 'waiting', () => clientGone || !!conn)]);
  } finally {
    l.server.close();
    rmSync(l.path, { force: true });
    watch.close();
  }
  if (!conn) {
    endStream(out);
    return true;
  }
  const term = conn;
  term.on('error', () => {});
  client.on('error', () => {});
  const ended = new Promise<void>((resolve) => {
    term.once('close', resolve);
    client.once('close', resolve);
  });
  if (want.stdout) term.pipe(client, { end: false });
  else term.resume();
  if (want.stdin) {
    if (h.head.length) term.write(h.head);
    client.pipe(term, { end: false });
  }
  await ended;
  // The container's exit closed the terminal: the client gets the rest, then EOF.
  // The client left: the monitor sees it go and the container runs on.
  term.unpipe(client);
  client.unpipe(term);
  term.destroy();
  endStream(out);
  return true;
}
