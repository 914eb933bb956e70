// `skiff system service`: the Docker Engine API on a unix socket. The
// service holds no container: each belongs to its monitor (skiff-shim), so
// containers outlive the service and a restarted service finds them on disk.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
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
import { statsRoutes } from './stats.js';
import { systemRoutes } from './system.js';

export const DEFAULT_HOST = 'unix:///run/skiff/skiff.sock';

export function apiRouter(): Router {
  const r = new Router();
  systemRoutes(r);
  containerRoutes(r);
  archiveRoutes(r);
  statsRoutes(r);
  buildRoutes(r);
  eventRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  networkRoutes(r);
  volumeRoutes(r);
  return r;
}

/** Where to listen: a unix socket path, or a TCP address (TLS with client certificates only). */
export type Listen = { unix: string } | { tcp: { host: string; port: number } };

export interface TlsFiles { ca: string; cert: string; key: string }

export function parseHost(host: string, tls?: TlsFiles): Listen {
  if (host.startsWith('unix://') || host.startsWith('/')) {
    if (tls) throw new SkiffError(`--tlsverify is for tcp:// hosts; a unix socket is guarded by its file mode`);
    return { unix: host.startsWith('/') ? host : host.slice('unix://'.length) };
  }
  const m = host.match(/^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/);
  if (!m || Number(m[2]) > 65535) throw new SkiffError(`invalid --host "${host}": use unix:///PATH or tcp://HOST:PORT`);
  // Whoever can talk to the API is root on this host: never over plain TCP.
  if (!tls) throw new SkiffError(`--host ${host}: TCP needs --tlsverify with --tlscacert, --tlscert and --tlskey (clients must present a certificate that CA signed)`);
  return { tcp: { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) } };
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
  /** For tcp:// hosts: the CA that signs clients' certificates, and the server's certificate and key (PEM files). */
  tls?: TlsFiles;
  /** Seconds without any connection after which the service exits; 0: never. */
  idleTimeout: number;
  log?: (line: string) => void;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new SkiffError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

export async function serve(opts: ServeOptions): Promise<Server> {
  const where = parseHost(opts.host, opts.tls);
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
  const httpOpts = { requestTimeout: 0, keepAliveTimeout: 60_000 };
  const server: Server = opts.tls
    // Mutual TLS, as dockerd's --tlsverify: a client without a certificate signed by the CA gets no connection.
    ? createHttpsServer({
      ...httpOpts, ca: readPem(opts.tls.ca, '--tlscacert'), cert: readPem(opts.tls.cert, '--tlscert'), key: readPem(opts.tls.key, '--tlskey'),
      requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
      // The docker CLI half-closes a hijacked attach (close_notify) and still reads the output.
      allowHalfOpen: true,
    }, (req, res) => run(req, res))
    : createServer(httpOpts, (req, res) => run(req, res));
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
    if ('unix' in where) {
      try {
        unlinkSync(where.unix);
      } catch {
        // gone already
      }
    }
    process.exit(0);
  };
  // One request's stray stream error must not take the others down (the containers would live on regardless).
  process.on('uncaughtException', (e) => log(`internal error: ${e.stack ?? e.message}`));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  if ('unix' in where) {
    const path = where.unix;
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
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
        ? new SkiffError(`--host ${opts.host}: the address is already in use`) : e));
      server.listen(where.tcp.port, where.tcp.host, () => resolve());
    });
  }
  monitors.warm();
  armIdle();
  return server;
}
