// `skiff system service`: the Docker Engine API on a unix socket. The
// service holds no container: each belongs to its monitor (skiff-shim), so
// containers outlive the service and a restarted service finds them on disk.
import { chmodSync, chownSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { SkiffError } from '../util/errors.js';
import { archiveRoutes } from './archive.js';
import { buildRoutes } from './build.js';
import { containerRoutes, monitors } from './containers.js';
import { eventRoutes } from './events.js';
import { execRoutes } from './exec.js';
import { imageRoutes } from './images.js';
import { networkRoutes } from './networks.js';
import { volumeRoutes } from './volumes.js';
import { Router, sendError } from './router.js';
import { systemRoutes } from './system.js';

export const DEFAULT_HOST = 'unix:///run/skiff/skiff.sock';

export function apiRouter(): Router {
  const r = new Router();
  systemRoutes(r);
  containerRoutes(r);
  archiveRoutes(r);
  buildRoutes(r);
  eventRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  networkRoutes(r);
  volumeRoutes(r);
  return r;
}

/** The socket path of a `unix://PATH` host; TCP needs TLS with client certificates, which skiff does not have yet. */
export function socketPath(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new SkiffError(`unsupported --host "${host}": only unix:///PATH; TCP would need --tls with client certificates, which skiff does not support yet`);
}

/** A leftover socket file of a dead service is removed; a live one is an error. */
async function clearStale(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new SkiffError(`another service is listening on ${path}`);
  unlinkSync(path);
}

export interface ServeOptions {
  host: string;
  /** Seconds without any connection after which the service exits; 0: never. */
  idleTimeout: number;
  log?: (line: string) => void;
}

export async function serve(opts: ServeOptions): Promise<Server> {
  const path = socketPath(opts.host);
  const router = apiRouter();
  const log = opts.log ?? (() => {});
  const trace = process.env.SKIFF_API_TRACE ? (l: string) => log(`${(performance.now() / 1000).toFixed(3)} ${l}`) : undefined;
  const run = (req: IncomingMessage, res: ServerResponse, hijack?: { socket: Duplex; head: Buffer }) => {
    trace?.(`> ${req.method} ${req.url}`);
    router.handle(req, res, hijack).then(() => trace?.(`< ${req.method} ${req.url}`), (e: Error) => {
      log(`${req.method} ${req.url}: ${e.message}`);
      sendError(res, e);
    });
  };
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => run(req, res));
  server.timeout = 0;
  // `Upgrade: tcp` (attach, exec start): the handler owns the socket; errors before the 101 still go out as HTTP.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy()); // a client that resets mid-stream; 'close' tells the handler
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.on('finish', () => socket.end());
    run(req, res, { socket, head });
  });

  let idle: NodeJS.Timeout | undefined;
  let open = 0;
  const armIdle = () => {
    if (opts.idleTimeout > 0 && open === 0) idle = setTimeout(() => shutdown(), opts.idleTimeout * 1000);
  };
  server.on('connection', (s: Socket) => {
    open++;
    clearTimeout(idle);
    s.once('close', () => {
      open--;
      armIdle();
    });
  });
  const shutdown = () => {
    monitors.close();
    server.close();
    server.closeAllConnections();
    try {
      unlinkSync(path);
    } catch {
      // gone already
    }
    process.exit(0);
  };
  // One request's stray stream error must not take the others down (the containers would live on regardless).
  process.on('uncaughtException', (e) => log(`internal error: ${e.stack ?? e.message}`));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  await clearStale(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Created 0660 from the start: no moment in which anyone else could connect.
    const mask = process.umask(0o117);
    server.listen(path, () => {
      process.umask(mask);
      resolve();
    });
  });
  // Access to this socket is root on the host: root's group only.
  chownSync(path, 0, 0);
  chmodSync(path, 0o660);
  monitors.warm();
  armIdle();
  return server;
}
