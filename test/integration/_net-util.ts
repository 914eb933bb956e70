// Helpers of the network tests. Every address they talk to is loopback or an
// address inside the test's own bridge (its gateway, its containers).
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { netLeftovers, sysTool, type Harness } from './_harness.js';

/** busybox httpd serving "<text>\n" as / on `port`, in the foreground. */
export function webApp(text: string, port = 5000): string[] {
  return ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${port} -h /www`];
}

/** GET http://host:port/ (a short timeout, few retries: the server may still be starting). */
export async function fetchText(host: string, port: number, tries = 30): Promise<string> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = http.get({ host, port, path: '/', timeout: 2000, agent: false }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`GET http://${host}:${port}/ failed: ${(last as Error).message}`);
}

/** Sends `msg` to host:port over UDP and resolves with the first reply. */
export async function udpAsk(host: string, port: number, msg: string, tries = 20): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const reply = await new Promise<string | undefined>((resolve) => {
      const s = dgram.createSocket('udp4');
      const timer = setTimeout(() => {
        s.close();
        resolve(undefined);
      }, 500);
      s.on('message', (m) => {
        clearTimeout(timer);
        s.close();
        resolve(m.toString());
      });
      s.on('error', () => {
        clearTimeout(timer);
        s.close();
        resolve(undefined);
      });
      s.send(msg, port, host);
    });
    if (reply !== undefined) return reply;
  }
  throw new Error(`no UDP reply from ${host}:${port}`);
}

/**
 * A UDP echo server on 0.0.0.0:port inside the network namespace of host pid
 * `pid` (a container's PID 1): the container's side of a /udp published port.
 * (Debian's busybox-static has no `nc -u`, so the server is Node, entered
 * into the container's netns with nsenter.)
 */
export async function udpEchoIn(t: ExecutionContext, pid: number, port: number): Promise<ChildProcess> {
  const code = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('echo:'+m,r.port,r.address));s.bind(${port},'0.0.0.0',()=>console.log('ready'))`;
  const child = spawn(sysTool('nsenter'), [`--net=/proc/${pid}/ns/net`, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`udp echo server exited ${c}`)));
  });
  return child;
}

/** A port that was free on `host` a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** n consecutive ports that were free on 0.0.0.0 a moment ago. */
export async function freeRange(n: number): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const servers: net.Server[] = [];
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      const s = net.createServer();
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(base + i, '0.0.0.0', () => resolve(true));
      });
      if (ok) servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
}

/** True if something listens on (or is bound to) host:port for `proto`. */
export function portBusy(proto: 'tcp' | 'udp', host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (proto === 'tcp') {
      const s = net.createServer();
      s.once('error', () => resolve(true));
      s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(false)));
    } else {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(true));
      s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(false)));
    }
  });
}

export interface LeaseView { id: string; ip: string; mac: string; veth: string; ports: Array<{ proto: string; hostIp: string; hostPort: number; containerPort: number }> }

/** skiff's host state of the test's bridge (leases by container id), or undefined. */
export function bridgeState(h: Harness): { subnet: string; gateway: string; leases: Record<string, LeaseView> } | undefined {
  const f = join('/run/skiff/net', h.net.bridge, 'state.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
}

/** Interfaces enslaved to the test's bridge (the host ends of veth pairs). */
export function bridgeMembers(h: Harness): string[] {
  try {
    return readdirSync(`/sys/class/net/${h.net.bridge}/brif`);
  } catch {
    return [];
  }
}

/** Host veths of these container ids that still exist. */
export function vethsOf(ids: string[]): string[] {
  return ids.map((id) => `veth${id.slice(0, 11)}`).filter((v) => existsSync(`/sys/class/net/${v}`));
}

/** The monitor's pid, from skiff's private state. */
export function monitorPid(h: Harness, id: string): number {
  return (JSON.parse(readFileSync(join(h.root, 'containers', id, 'state.json'), 'utf8')) as { Skiff: { MonitorPid: number } }).Skiff.MonitorPid;
}

/**
 * Removes every container and the bridge, then asserts that nothing of the
 * network is left: no veth, lease, nft table, bridge or state. Tests call it
 * at their end; the harness teardown cleans up anyway if they fail earlier.
 */
export async function assertNetClean(t: ExecutionContext, h: Harness, ids: string[] = h.containerIds()): Promise<void> {
  if (h.containerIds().length) await h.ok(t, ['rm', '-f', ...h.containerIds()]);
  t.deepEqual(vethsOf(ids), [], 'no veth left after rm');
  t.deepEqual(bridgeMembers(h), [], 'nothing attached to the bridge');
  t.deepEqual(Object.keys(bridgeState(h)?.leases ?? {}), [], 'no lease left');
  await h.ok(t, ['network', 'prune', '-f']);
  t.deepEqual(netLeftovers(h.net), [], 'bridge, nft table and state are gone after prune');
}

export function ipForward(): string {
  return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
}
