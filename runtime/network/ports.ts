// Port specs as Docker parses them (go-connections nat.ParsePortSpec), and
// the two ways Docker prints published ports: `ps`'s PORTS column and `port`.
import { SkiffError } from '../util/errors.js';
import { parseIPv4 } from './ipv4.js';

export type Proto = 'tcp' | 'udp';

/** One entry of HostConfig.PortBindings / NetworkSettings.Ports (Docker's field names). */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** A published port as the runtime uses it. hostPort 0 = pick one from [rangeLo, rangeHi] (or the configured range). */
export interface Binding {
  proto: Proto;
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** "80" or "8000-8010" → [start, end]; undefined when malformed. */
export function parsePortRange(s: string): [number, number] | undefined {
  if (s === '') return undefined;
  const parts = s.split('-');
  if (parts.length > 2) return undefined;
  const a = parsePort(parts[0]);
  const b = parts.length === 2 ? parsePort(parts[1]) : a;
  if (a === undefined || b === undefined || b < a) return undefined;
  return [a, b];
}

function splitProto(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw === '' || parts[0] === '') return ['', ''];
  if (parts.length === 1 || parts[1] === '') return [parts[0], 'tcp'];
  return [parts[0], parts[1]];
}

function checkProto(proto: string): Proto {
  const p = proto.toLowerCase();
  if (p === 'tcp' || p === 'udp') return p;
  if (p === 'sctp') throw new SkiffError('invalid proto: sctp (skiff publishes tcp and udp only)');
  throw new SkiffError(`invalid proto: ${proto}`);
}

/**
 * One `-p` value → [port key, binding] pairs, as Docker expands it:
 * "8000-8002:8000-8002" gives three, "8000-8010:80" one with the host range kept.
 */
export function parsePublishSpec(raw: string): Array<[string, PortBinding]> {
  const parts = raw.split(':');
  const last = parts[parts.length - 1];
  let ip = '';
  let hostPort = '';
  if (parts.length === 2) hostPort = parts[0];
  else if (parts.length >= 3) {
    ip = parts.slice(0, -2).join(':');
    hostPort = parts[parts.length - 2];
  }
  const [containerPort, proto0] = splitProto(last);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== '') {
    if (ip.includes(':')) throw new SkiffError(`invalid IP address: ${ip} (skiff publishes ports on IPv4 addresses only)`);
    if (parseIPv4(ip) === undefined) throw new SkiffError(`invalid IP address: ${ip}`);
  }
  if (containerPort === '') throw new SkiffError(`no port specified: ${raw}<empty>`);
  const c = parsePortRange(containerPort);
  if (!c || c[0] === 0) throw new SkiffError(`invalid containerPort: ${containerPort}`);
  let h: [number, number] | undefined;
  if (hostPort !== '') {
    h = parsePortRange(hostPort);
    if (!h) throw new SkiffError(`invalid hostPort: ${hostPort}`);
    if (h[1] - h[0] !== c[1] - c[0] && c[0] !== c[1]) {
      throw new SkiffError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
  }
  const proto = checkProto(proto0);
  const out: Array<[string, PortBinding]> = [];
  const count = c[1] - c[0] + 1;
  for (let i = 0; i < count; i++) {
    let hp = '';
    if (h) {
      hp = String(h[0] + i);
      if (count === 1 && h[0] !== h[1]) hp += `-${h[1]}`;
    }
    out.push([`${c[0] + i}/${proto}`, { HostIp: ip, HostPort: hp }]);
  }
  return out;
}

/** All `-p` values → HostConfig.PortBindings (Docker's map form). */
export function parsePublish(specs: string[]): Record<string, PortBinding[]> {
  const out: Record<string, PortBinding[]> = {};
  for (const s of specs) {
    for (const [key, b] of parsePublishSpec(s)) (out[key] ??= []).push(b);
  }
  return out;
}

/** `--expose 5000`, `5000-5002`, `53/udp` → port keys. */
export function parseExpose(spec: string): string[] {
  const [port, proto0] = splitProto(spec);
  if (port.includes(':')) throw new SkiffError(`invalid port format for --expose: ${spec}`);
  const r = parsePortRange(port);
  if (!r || r[0] === 0) throw new SkiffError(`invalid range format for --expose: ${spec}, error: invalid port`);
  const proto = checkProto(proto0);
  const out: string[] = [];
  for (let p = r[0]; p <= r[1]; p++) out.push(`${p}/${proto}`);
  return out;
}

export function splitKey(key: string): { port: number; proto: Proto } {
  const [p, proto] = key.split('/');
  return { port: Number(p), proto: (proto || 'tcp') as Proto };
}

/** The configured range for random host ports: "49000-49900". */
export function parseHostRange(s: string): [number, number] {
  const r = parsePortRange(s.trim());
  if (!r || r[0] === 0) throw new SkiffError(`invalid port-range "${s}": want LOW-HIGH, e.g. 49000-49900`);
  return r;
}

interface ApiPort { IP: string; PrivatePort: number; PublicPort: number; Type: string }

/** The API's port list of a running container, from NetworkSettings.Ports. */
export function apiPorts(ports: Record<string, unknown> | undefined): ApiPort[] {
  const out: ApiPort[] = [];
  for (const [key, v] of Object.entries(ports ?? {})) {
    const { port, proto } = splitKey(key);
    if (Array.isArray(v) && v.length) {
      for (const b of v as PortBinding[]) out.push({ IP: b.HostIp, PrivatePort: port, PublicPort: Number(b.HostPort), Type: proto });
    } else {
      out.push({ IP: '', PrivatePort: port, PublicPort: 0, Type: proto });
    }
  }
  return out;
}

function comparePorts(a: ApiPort, b: ApiPort): number {
  if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
  if (a.IP !== b.IP) return a.IP < b.IP ? -1 : 1;
  if (a.PublicPort !== b.PublicPort) return a.PublicPort - b.PublicPort;
  return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
}

function formGroup(key: string, first: number, last: number): string {
  const parts = key.split('/');
  let type = parts[0];
  let ip = '';
  if (parts.length > 1) {
    ip = parts[0];
    type = parts[1];
  }
  let group = String(first);
  if (first !== last) group = `${group}-${last}`;
  if (ip !== '') group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

/** docker/cli's DisplayablePorts: "0.0.0.0:49155->5000/tcp, 8000-8002/tcp". */
export function displayablePorts(ports: ApiPort[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of [...ports].sort(comparePorts)) {
    let key = p.Type;
    if (p.IP !== '') {
      if (p.PublicPort !== p.PrivatePort) {
        hostMappings.push(`${p.IP}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
      continue;
    }
    if (p.PrivatePort === g.last + 1) {
      g.last = p.PrivatePort;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: p.PrivatePort, last: p.PrivatePort }); // keeps the key's first-seen position, as Docker does
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}

/** Go's sortorder.NaturalLess, enough for "5000/tcp -> 0.0.0.0:49155" lines: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const ta = a.match(re) ?? [];
  const tb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}
