// A registry that skiff can serve itself: the OCI distribution API (what
// `docker push`, skopeo and other Registry HTTP API v2 clients speak) over a
// filesystem store. This file owns the HTTP(S) server, authentication, the
// access log and a graceful shutdown; the protocol lives in server/routes.ts
// and the on-disk layout in server/storage.ts.
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { htpasswdAuth } from './server/auth.js';
import { RegistryError } from './server/errors.js';
import { route, sendError, type Ctx } from './server/routes.js';
import { Storage } from './server/storage.js';

export interface RegistryOptions {
  /** host:port to listen on; port 0 picks a free port. `[::1]:5000` and `:5000` (all interfaces) work too. */
  addr: string;
  /** Where blobs, uploads and repositories are stored. */
  root: string;
  /** An htpasswd file of bcrypt entries; when set every /v2/ request needs Basic credentials. */
  htpasswd?: string;
  /** PEM certificate and key; both or neither. With them the registry speaks HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
  /** Receives one line per request, plus the occasional warning. */
  log?: (line: string) => void;
  /** How long close() lets in-flight requests finish before cutting connections (default 10 s). */
  shutdownGraceMs?: number;
}

export interface RunningRegistry {
  /** e.g. http://127.0.0.1:5000, with the port actually bound. */
  url: string;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. Idempotent. */
  close(): Promise<void>;
}

/** Splits `host:port`, `[v6]:port` or `:port`. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`invalid address ${JSON.stringify(addr)}: expected HOST:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  return { host: m[1] ?? m[2] ?? '', port };
}

export async function startRegistry(opts: RegistryOptions): Promise<RunningRegistry> {
  const log = opts.log ?? (() => undefined);
  const { host, port } = parseAddr(opts.addr);
  if (!!opts.tlsCert !== !!opts.tlsKey) throw new Error('--tls-cert and --tls-key must be given together');
  const tls = opts.tlsCert && opts.tlsKey ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) } : undefined;
  const auth = opts.htpasswd ? htpasswdAuth(opts.htpasswd, log) : undefined;
  const storage = new Storage(opts.root);
  await storage.init();

  let closing = false;
  const inflight = new Set<ServerResponse>();
  // Shutdown waits for requests being handled and drops idle connections.
  // A connection that has not produced a request yet may be sending one right
  // now (its bytes not parsed yet), so, like Go's http.Server.Shutdown, it
  // counts as idle only once it is NEW_CONN_GRACE_MS old; a client that
  // connects and never sends anything delays shutdown by at most that much.
  // Connections are keyed by the peer's address and port because with TLS the
  // socket a request sees is not the TCP socket the server accepted, but both
  // have the same peer.
  const NEW_CONN_GRACE_MS = 1000;
  const conns = new Map<string, { socket: Socket; since: number; used: boolean }>();
  const busy = new Map<string, number>(); // peer -> requests being handled
  const peerOf = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  const dropIfIdle = (peer: string, how: 'end' | 'destroy') => {
    const c = conns.get(peer);
    if (!c || busy.has(peer) || (!c.used && Date.now() - c.since < NEW_CONN_GRACE_MS)) return;
    c.socket[how]();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const ctx: Ctx = { req, res, storage, url: new URL(req.url ?? '/', 'http://registry.invalid'), bytes: 0 };
    let user = '-';
    const remote = req.socket.remoteAddress ?? '-';
    const peer = peerOf(req.socket);
    const conn = conns.get(peer);
    if (conn) conn.used = true;
    inflight.add(res);
    busy.set(peer, (busy.get(peer) ?? 0) + 1);
    res.on('close', () => {
      inflight.delete(res);
      const n = (busy.get(peer) ?? 1) - 1;
      if (n > 0) busy.set(peer, n);
      else busy.delete(peer);
      const ms = Math.round(performance.now() - started);
      // writableEnded: we wrote the whole response (the client may still hang up before the last ack).
      const aborted = res.writableEnded ? '' : ' (aborted)';
      log(`${new Date().toISOString()} ${remote} ${user} "${req.method} ${req.url}" ${res.statusCode} ${ctx.bytes} ${ms}ms${aborted}`);
      // A keep-alive connection that just went idle would otherwise hold close() open.
      // end(), not destroy(): the response's last bytes may still be queued.
      if (closing) setImmediate(() => dropIfIdle(peer, 'end'));
    });
    if (closing) res.setHeader('Connection', 'close');
    try {
      if (!ctx.url.pathname.startsWith('/v2')) {
        res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 10 }).end('not found\n');
        ctx.bytes = 10;
        return;
      }
      // Clients probe /v2/ for this header to tell a registry from any other web server.
      res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
      if (auth) {
        const who = await auth.check(req.headers.authorization);
        if (who === undefined) {
          throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined)
            .withHeaders({ 'WWW-Authenticate': 'Basic realm="skiff"' });
        }
        user = who;
      }
      await route(ctx);
    } catch (e) {
      sendError(ctx, e, log);
    }
  };

  // requestTimeout 0: a multi-GB layer upload may legitimately take longer
  // than Node's default 5 minutes. headersTimeout must then be set explicitly:
  // Node derives it as min(60 s, requestTimeout), i.e. 0 = never, which would
  // let a client that never finishes its headers hold a socket forever.
  const serverOpts = { requestTimeout: 0, headersTimeout: 60_000 };
  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server: http.Server = tls ? https.createServer({ ...serverOpts, ...tls }, listener) : http.createServer(serverOpts, listener);
  server.on('connection', (socket: Socket) => {
    const peer = peerOf(socket);
    const conn = { socket, since: Date.now(), used: false };
    conns.set(peer, conn);
    socket.on('close', () => {
      if (conns.get(peer) === conn) conns.delete(peer);
    });
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  // A wildcard address is not something a client can dial; name loopback instead.
  const shown = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const url = `${tls ? 'https' : 'http'}://${shown.includes(':') ? `[${shown}]` : shown}:${bound}`;

  let closed: Promise<void> | undefined;
  const close = () => (closed ??= new Promise<void>((resolve) => {
    closing = true;
    // Responses not yet started tell their clients this connection ends with them.
    for (const res of inflight) if (!res.headersSent) res.setHeader('Connection', 'close');
    const force = setTimeout(() => {
      server.closeAllConnections();
      for (const c of conns.values()) c.socket.destroy(); // including TLS handshakes still pending
    }, opts.shutdownGraceMs ?? 10_000);
    force.unref();
    const sweep = () => {
      for (const peer of conns.keys()) dropIfIdle(peer, 'destroy');
    };
    // Young unused connections become droppable as they age; look again until done.
    const sweeper = setInterval(sweep, NEW_CONN_GRACE_MS / 4);
    sweeper.unref();
    server.close(() => {
      clearTimeout(force);
      clearInterval(sweeper);
      resolve();
    });
    sweep();
  }));

  return { url, port: bound, close };
}
