// Published ports' host sockets, held by the container's monitor process.
//
// prepareNetwork binds every published port before the container is cloned.
// The bound socket is the port reservation: the kernel lets exactly one
// process bind a port, so of two `run -p 8080:80` racing, one gets
// EADDRINUSE and fails cleanly before anything else is made. With the
// userland proxy on ("userland-proxy": true, or SKIFF_USERLAND_PROXY=1) the
// same socket relays what DNAT then does not carry (loopback clients, and
// containers on the bridge dialing a host address) to the container, TCP as
// a byte pipe with half-close, UDP as a datagram relay with one upstream
// socket per client. The sockets close when the monitor
// closes them, or die with it. A detached container's monitor hands its
// sockets, TCP and UDP, to skiff-shim (handOverPorts), which relays them in
// C, so that no Node process stays per container.
import dgram from 'node:dgram';
import net from 'node:net';
import { setCloexec } from '../../native-bindings/libc.js';
import { SkiffError } from '../util/errors.js';
import type { Binding, Proto } from './ports.js';

/** What to bind: a fixed port (lo === hi), any port of [lo, hi], or lo = hi = 0 for the configured range. */
export interface BindRequest {
  proto: Proto;
  hostIp: string;
  lo: number;
  hi: number;
  containerPort: number;
}

interface Held {
  close(): void;
  /** skiff-shim's argument for this socket (tcp:FD:IP:PORT or udp:FD:IP:PORT, the fd left open across execve), if it can relay it. */
  shimArg?(): string | undefined;
}

const held = new Map<string, Held[]>();
/** UDP flows idle this long are dropped (docker-proxy's UDP timeout). */
const UDP_IDLE_MS = 90_000;

function tcpProxy(server: net.Server, target: () => { host: string; port: number }): Held {
  const conns = new Set<net.Socket>();
  server.on('connection', (client) => {
    const upstream = net.connect({ ...target(), allowHalfOpen: true });
    conns.add(client);
    conns.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', () => {
      conns.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      conns.delete(upstream);
      client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return {
    close() {
      server.close();
      for (const c of conns) c.destroy();
    },
    shimArg() {
      const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (fd === undefined || fd < 0) return undefined;
      setCloexec(fd, false);
      const t = target();
      return `tcp:${fd}:${t.host}:${t.port}`;
    },
  };
}

function udpProxy(sock: dgram.Socket, target: () => { host: string; port: number }): Held {
  const flows = new Map<string, { up: dgram.Socket; timer: NodeJS.Timeout }>();
  sock.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const up = dgram.createSocket('udp4');
      const t = target();
      up.on('message', (reply, from) => {
        if (from.address !== t.host || from.port !== t.port) return;
        sock.send(reply, rinfo.port, rinfo.address);
        flow!.timer.refresh();
      });
      up.on('error', () => drop());
      const drop = () => {
        clearTimeout(flow!.timer);
        flows.delete(key);
        try {
          up.close();
        } catch {
          // closed
        }
      };
      flow = { up, timer: setTimeout(drop, UDP_IDLE_MS) };
      flow.timer.unref();
      flows.set(key, flow);
    }
    flow.timer.refresh();
    const t = target();
    flow.up.send(msg, t.port, t.host);
  });
  sock.on('error', () => {});
  return {
    shimArg() {
      // dgram keeps its handle under a symbol of its own; the handle has the fd.
      const state = Object.getOwnPropertySymbols(sock).find((k) => k.description === 'state symbol');
      const fd = state ? (sock as unknown as Record<symbol, { handle?: { fd?: number } }>)[state].handle?.fd : undefined;
      if (fd === undefined || fd < 0) return undefined;
      setCloexec(fd, false);
      const t = target();
      return `udp:${fd}:${t.host}:${t.port}`;
    },
    close() {
      for (const f of flows.values()) {
        clearTimeout(f.timer);
        try {
          f.up.close();
        } catch {
          // closed
        }
      }
      flows.clear();
      try {
        sock.close();
      } catch {
        // closed
      }
    },
  };
}

/** Binds one host port; resolves with a handle, or rejects with the errno code (EADDRINUSE, ...). */
function bindOne(proto: Proto, hostIp: string, port: number, target: () => { host: string; port: number }): Promise<Held> {
  const host = hostIp || '0.0.0.0';
  return new Promise((resolve, reject) => {
    if (proto === 'tcp') {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
      server.once('error', reject);
      server.listen({ host, port, exclusive: true, backlog: 511 }, () => {
        server.removeListener('error', reject);
        server.on('error', () => {});
        resolve(tcpProxy(server, target));
      });
    } else {
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
      sock.once('error', reject);
      sock.bind({ address: host, port, exclusive: true }, () => {
        sock.removeListener('error', reject);
        resolve(udpProxy(sock, target));
      });
    }
  });
}

function allocatedError(proto: Proto, hostIp: string, port: number, code?: string): SkiffError {
  const where = `${hostIp || '0.0.0.0'}:${port}`;
  if (code && code !== 'EADDRINUSE') return new SkiffError(`cannot publish ${where}/${proto}: ${code === 'EADDRNOTAVAIL' ? `${hostIp} is not an address of this host` : code}`);
  return new SkiffError(`Bind for ${where} failed: port is already allocated`);
}

/**
 * Binds every requested port for container `id` and keeps the sockets.
 * Random ports come from `range`, skipping `taken` (ports other skiff
 * containers have published, whose proxies may be gone but whose DNAT rules
 * are not). On failure nothing stays bound.
 */
export async function bindPorts(id: string, reqs: BindRequest[], target: (containerPort: number) => { host: string; port: number },
  range: [number, number], taken: (proto: Proto, port: number, hostIp: string) => boolean): Promise<Binding[]> {
  const handles: Held[] = [];
  const out: Binding[] = [];
  const mine = new Set<string>();
  try {
    for (const r of reqs) {
      const tgt = () => target(r.containerPort);
      const [lo, hi] = r.lo === 0 ? range : [r.lo, r.hi];
      const fixed = lo === hi;
      const span = hi - lo + 1;
      const start = fixed ? 0 : Math.floor(Math.random() * span);
      let bound: { h: Held; port: number } | undefined;
      let lastCode: string | undefined;
      for (let i = 0; i < span && !bound; i++) {
        const port = lo + ((start + i) % span);
        const key = `${r.proto}/${port}`;
        if (mine.has(key) || taken(r.proto, port, r.hostIp)) {
          lastCode = 'EADDRINUSE';
          continue;
        }
        try {
          bound = { h: await bindOne(r.proto, r.hostIp, port, tgt), port };
          mine.add(key);
        } catch (e) {
          lastCode = (e as NodeJS.ErrnoException).code;
          if (lastCode !== 'EADDRINUSE' && lastCode !== 'EACCES') break;
        }
      }
      if (!bound) {
        if (fixed) throw allocatedError(r.proto, r.hostIp, lo, lastCode);
        if (lastCode && lastCode !== 'EADDRINUSE' && lastCode !== 'EACCES') throw allocatedError(r.proto, r.hostIp, lo, lastCode);
        throw new SkiffError(`no free host port for ${r.containerPort}/${r.proto} in ${lo}-${hi}`);
      }
      handles.push(bound.h);
      out.push({ proto: r.proto, hostIp: r.hostIp || '0.0.0.0', hostPort: bound.port, containerPort: r.containerPort });
    }
  } catch (e) {
    for (const h of handles) h.close();
    throw e;
  }
  held.set(id, [...(held.get(id) ?? []), ...handles]);
  return out;
}

/**
 * skiff-shim's arguments for every port this process holds for `id`, their
 * fds made inheritable; undefined when one of them cannot be handed over (UDP).
 */
export function handOverPorts(id: string): string[] | undefined {
  const hs = held.get(id) ?? [];
  if (hs.some((h) => !h.shimArg)) return undefined;
  const args = hs.map((h) => h.shimArg!());
  return args.every((a): a is string => a !== undefined) ? args : undefined;
}

/** Closes the ports this process holds for `id` (a no-op in any other process). */
export function closePorts(id: string): void {
  const hs = held.get(id);
  if (!hs) return;
  held.delete(id);
  for (const h of hs) h.close();
}
