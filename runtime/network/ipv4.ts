// IPv4 address arithmetic: addresses as unsigned 32-bit numbers.
import { SkiffError } from '../util/errors.js';

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  /** Network address (host bits zero). */
  base: number;
  prefix: number;
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.1.2.0/24"; host bits must be zero, and the subnet must leave room for a gateway and a container. */
export function parseCidr(s: string, what = 'subnet'): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s.trim());
  const addr = m ? parseIPv4(m[1]) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 32)) throw new SkiffError(`invalid ${what} "${s}": want an IPv4 CIDR like 172.30.0.0/16`);
  if (prefix > 30) throw new SkiffError(`invalid ${what} "${s}": a /${prefix} has no room for a gateway and containers (use /30 or larger)`);
  const base = (addr & maskOf(prefix)) >>> 0;
  if (base !== addr) throw new SkiffError(`invalid ${what} "${s}": host bits are set (did you mean ${formatIPv4(base)}/${prefix}?)`);
  return { base, prefix };
}

export function cidrString(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & maskOf(p)) >>> 0) === ((b.base & maskOf(p)) >>> 0);
}

export function broadcast(c: Cidr): number {
  return (c.base | (~maskOf(c.prefix) >>> 0)) >>> 0;
}

/** The gateway is the subnet's first host address, as in Docker. */
export function gatewayOf(c: Cidr): number {
  return c.base + 1;
}

/** Docker's MAC rule: 02:42 followed by the four bytes of the IPv4 address. */
export function macFor(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
