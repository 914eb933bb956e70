// The host side of the bridge network: its state (leases, published ports),
// the bridge interface, skiff's nftables table, ip_forward, and veth pairs.
//
// The bridge, its nftables table and ip_forward belong to the host, not to one
// SKIFF_ROOT, so their bookkeeping lives with the host too, on tmpfs:
//
//   /run/skiff/net/<bridge>/state.json   subnet, gateway, one lease per container
//   /run/skiff/net/<bridge>/lock         flock(2) around every read-modify-write
//   /run/skiff/net/forward.json          ip_forward as found, and which bridges need it
//   /run/skiff/net/forward.lock
//
// tmpfs is the right lifetime: after a reboot no veth, bridge or rule exists
// either. Two skiff roots sharing one bridge therefore never hand out the same
// address. State files are written atomically (util/json.ts).
//
// Everything in the kernel is derived from state.json: the nftables table
// `ip skiff-<bridge>` is rewritten as a whole, in one nft transaction, from the
// leases whenever they change, and deleted with the last lease.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { flock, LOCK_EX } from '../../native-bindings/libc.js';
import { SkiffError } from '../util/errors.js';
import { readJsonOr, writeJsonAtomic } from '../util/json.js';
import { cidrString, formatIPv4, gatewayOf, overlaps, parseCidr, parseIPv4, type Cidr } from './ipv4.js';
import type { Binding } from './ports.js';
import { nftScript } from './nftlib.js';
import { DEFAULT_SUBNETS, type NetSettings } from './settings.js';

let ownNetDir: string | undefined;
/**
 * Bridges, nftables tables and ip_forward belong to a network namespace, and
 * so does their bookkeeping: /run/skiff/net in the host's network namespace,
 * /run/skiff/net-ns<inode> in another one (e.g. under `ip netns exec`). The
 * host's is PID 1's; where PID 1's cannot be read (some sandboxes refuse it
 * even to root), a namespace named in /run/netns (`ip netns add`) is taken
 * as not the host's.
 */
export function netDir(): string {
  if (ownNetDir) return ownNetDir;
  let own: number | undefined;
  try {
    own = statSync('/proc/self/ns/net').ino;
  } catch {
    // no /proc: the host's
  }
  let foreign = false;
  if (own !== undefined) {
    try {
      foreign = statSync('/proc/1/ns/net').ino !== own;
    } catch {
      try {
        foreign = readdirSync('/run/netns').some((n) => {
          try {
            return statSync(join('/run/netns', n)).ino === own;
          } catch {
            return false;
          }
        });
      } catch {
        // no named namespaces
      }
    }
  }
  ownNetDir = foreign ? `/run/skiff/net-ns${own}` : '/run/skiff/net';
  return ownNetDir;
}

export interface Lease {
  id: string;
  /** "/name", for messages and `network inspect`. */
  name: string;
  /** The SKIFF_ROOT the container lives in: a lease whose container is gone is reclaimed. */
  root: string;
  ip: string;
  mac: string;
  /** Host end of the veth pair. */
  veth: string;
  /** Published ports, as bound. */
  ports: Binding[];
  /** Interface name inside the container (eth0 when absent). */
  ifname?: string;
  /** Names besides the container's own that peers on a user-defined network know it by (--network-alias). */
  aliases?: string[];
}

export interface BridgeState {
  bridge: string;
  subnet: string;
  gateway: string;
  leases: Record<string, Lease>;
  /** The setting of the last container started: whether loopback clients use the proxy (see settings.ts). */
  userlandProxy?: boolean;
  /** Set for a user-defined network (see user.ts): its name; its table isolates it from other bridges. */
  network?: string;
  /** --internal: no traffic leaves the bridge (no masquerade, forwarding off the bridge dropped). */
  internal?: boolean;
}

export const tableName = (bridge: string) => `skiff-${bridge}`;
export const vethName = (id: string) => `veth${id.slice(0, 11)}`;
const stateDir = (bridge: string) => join(netDir(), bridge);
const stateFile = (bridge: string) => join(stateDir(bridge), 'state.json');

// ---- locks and state ---------------------------------------------------------

/**
 * flock(2) on `file`. `network prune` deletes a bridge's directory, lock file
 * included, while holding the lock; a waiter then holds a lock on a deleted
 * file, notices (the path is gone or is another inode) and starts over.
 */
function lockFd(file: string): number {
  for (;;) {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o755 });
    const fd = openSync(file, 'a');
    try {
      flock(fd, LOCK_EX, file);
      let same = false;
      try {
        same = statSync(file).ino === fstatSync(fd).ino;
      } catch {
        // deleted while we waited
      }
      if (same) return fd;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    closeSync(fd);
  }
}

// flock(2) belongs to the open file, not the process: a second open of the
// same lock file in this process blocks in flock like any other process would,
// and since flock blocks the whole event loop, a holder that is waiting on an
// await can then never release it. The long-running API service is the
// process at risk. So this process keeps its own account of what it holds:
// async callers queue behind each other here before touching flock, and a
// synchronous caller that would block on a lock this same process holds
// fails at once instead of hanging forever (such a caller is a bug: code the
// service runs must not hold a lock across an await).
const heldHere = new Set<string>();
const asyncQueue = new Map<string, Promise<unknown>>();

function lockHere(file: string): number {
  if (heldHere.has(file)) throw new SkiffError(`internal error: lock ${file} is already held by this process (flock is not reentrant)`);
  const fd = lockFd(file);
  heldHere.add(file);
  return fd;
}

function unlockHere(file: string, fd: number): void {
  heldHere.delete(file);
  closeSync(fd);
}

export function withFileLock<T>(file: string, fn: () => T): T {
  const fd = lockHere(file);
  try {
    return fn();
  } finally {
    unlockHere(file, fd);
  }
}

/**
 * Holds the lock across awaits: only for short-lived processes (a container's
 * monitor while it starts), never for code the API service runs.
 */
export async function withFileLockAsync<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const before = asyncQueue.get(file);
  const run = (async () => {
    if (before) await before.catch(() => {});
    const fd = lockHere(file);
    try {
      return await fn();
    } finally {
      unlockHere(file, fd);
    }
  })();
  const tail = run.catch(() => {});
  asyncQueue.set(file, tail);
  void tail.then(() => {
    if (asyncQueue.get(file) === tail) asyncQueue.delete(file);
  });
  return run;
}

export const bridgeLock = (bridge: string) => join(stateDir(bridge), 'lock');

export function readState(bridge: string): BridgeState | undefined {
  return readJsonOr<BridgeState | undefined>(stateFile(bridge), undefined);
}

export function writeState(s: BridgeState): void {
  mkdirSync(stateDir(s.bridge), { recursive: true, mode: 0o755 });
  writeJsonAtomic(stateFile(s.bridge), s);
}

/** Bridges skiff has state for. */
export function knownBridges(): string[] {
  try {
    return readdirSync(netDir()).filter((d) => existsSync(stateFile(d)));
  } catch {
    return [];
  }
}

/** Leases whose container no longer exists on disk (its root was deleted, or a crash skipped rm). */
export function staleLeases(s: BridgeState): Lease[] {
  return Object.values(s.leases).filter((l) => !existsSync(join(l.root, 'containers', l.id, 'state.json')));
}

// ---- commands ----------------------------------------------------------------

// System tools by absolute path: under `npm test`/npx, PATH starts with
// node_modules/.bin, where `nft` is @vercel/nft's file tracer (an ava dependency).
const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
const toolPaths = new Map<string, string>();
export function tool(name: string): string {
  let p = toolPaths.get(name);
  if (!p) {
    p = SYSTEM_DIRS.map((d) => join(d, name)).find((f) => existsSync(f)) ?? name;
    toolPaths.set(name, p);
  }
  return p;
}

function missingTool(tool: string, pkg: string): SkiffError {
  return new SkiffError(`the bridge network needs '${tool}' (Debian package ${pkg}); install it or use --network none|host`);
}

function runSync(cmd: string, args: string[], input: string, pkg: string): void {
  try {
    execFileSync(tool(cmd), args, { input, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw missingTool(cmd, pkg);
    throw new SkiffError(`${cmd} ${args.join(' ')} failed: ${err.stderr?.toString().trim() || err.message}\n${input.trim()}`);
  }
}

/** `ip -batch -` on the host. */
export function ipSync(lines: string[]): void {
  runSync('ip', ['-batch', '-'], lines.join('\n') + '\n', 'iproute2');
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Deletes an interface if it exists. `graceMs`: a veth whose container just
 * died goes away with its network namespace within a few milliseconds; waiting
 * for that is cheaper than deleting it (which waits for RCU grace periods).
 */
export function deleteLink(name: string, graceMs = 0): void {
  for (const end = Date.now() + graceMs; linkExists(name) && Date.now() < end;) Atomics.wait(sleeper, 0, 0, 2);
  if (!linkExists(name)) return;
  try {
    ipSync([`link del ${name}`]);
  } catch {
    // gone meanwhile (the kernel removes a veth with its namespace)
  }
}

// ---- subnet choice -------------------------------------------------------------

interface HostRoute { dst: Cidr; dev: string; text: string }

/** Every IPv4 route of the host, in all tables (local addresses included), except default routes. */
export function hostRoutes(): HostRoute[] {
  let out: string;
  try {
    out = execFileSync(tool('ip'), ['-4', '-j', 'route', 'show', 'table', 'all'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missingTool('ip', 'iproute2');
    throw e;
  }
  const routes: HostRoute[] = [];
  for (const r of JSON.parse(out || '[]') as Array<{ type?: string; dst: string; dev?: string; table?: string }>) {
    if (!r.dst || r.dst === 'default' || r.type === 'multicast') continue;
    const [addr, len] = r.dst.split('/');
    const base = parseIPv4(addr);
    if (base === undefined) continue;
    const prefix = len === undefined ? 32 : Number(len);
    routes.push({ dst: { base, prefix }, dev: r.dev ?? '', text: `${r.type && r.type !== 'unicast' ? `${r.type} ` : ''}${r.dst}${r.dev ? ` dev ${r.dev}` : ''}${r.table ? ` table ${r.table}` : ''}` });
  }
  return routes;
}

function collision(subnet: Cidr, bridge: string, routes: HostRoute[]): HostRoute | undefined {
  return routes.find((r) => r.dev !== bridge && overlaps(r.dst, subnet));
}

/** The subnet to create the bridge with: the configured one (an error if it collides), else the first free default. */
export function chooseSubnet(settings: NetSettings, routes = hostRoutes()): Cidr {
  if (settings.subnet) {
    const c = parseCidr(settings.subnet);
    const hit = collision(c, settings.bridge, routes);
    if (hit) {
      throw new SkiffError(`subnet ${cidrString(c)} for bridge ${settings.bridge} overlaps the host route "${hit.text}"; ` +
        'choose another with "subnet" in config.json or SKIFF_SUBNET');
    }
    return c;
  }
  for (const s of DEFAULT_SUBNETS) {
    const c = parseCidr(s);
    if (!collision(c, settings.bridge, routes)) return c;
  }
  throw new SkiffError(`every default subnet (${DEFAULT_SUBNETS.join(', ')}) overlaps a host route; set "subnet" in config.json or SKIFF_SUBNET`);
}

// ---- the bridge ------------------------------------------------------------------

/** The bridge's IPv4 address as the kernel has it ("10.1.2.1/24"), or undefined. */
function bridgeAddress(bridge: string): string | undefined {
  try {
    const out = execFileSync(tool('ip'), ['-4', '-j', 'addr', 'show', 'dev', bridge], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const info = (JSON.parse(out) as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>)[0]?.addr_info?.[0];
    return info ? `${info.local}/${info.prefixlen}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Under the bridge lock: the bridge's state, creating the bridge (and its
 * state) on first use, and re-creating the interface if someone deleted it.
 */
export function ensureBridge(settings: NetSettings): BridgeState {
  const name = settings.bridge;
  let s = readState(name);
  if (s && settings.subnet && parseCidr(settings.subnet).base !== parseCidr(s.subnet).base) {
    throw new SkiffError(`bridge ${name} exists with subnet ${s.subnet}, but ${settings.subnet} is configured; ` +
      `remove its containers and run 'skiff network prune' to re-create it`);
  }
  if (linkExists(name)) {
    if (!existsSync(`/sys/class/net/${name}/bridge`)) throw new SkiffError(`interface ${name} exists and is not a bridge; configure another "bridge" name`);
    if (!s) {
      // A bridge skiff did not record (e.g. made by hand): adopt its address if it has one.
      const addr = bridgeAddress(name);
      let subnet: Cidr;
      let gateway: string;
      if (addr) {
        const [ip, len] = addr.split('/');
        const prefix = Number(len);
        subnet = parseCidr(`${formatIPv4((parseIPv4(ip)! & (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)))) >>> 0)}/${prefix}`);
        gateway = ip;
      } else {
        subnet = chooseSubnet(settings);
        gateway = formatIPv4(gatewayOf(subnet));
        ipSync([`addr add ${gateway}/${subnet.prefix} brd + dev ${name}`, `link set ${name} up`]);
      }
      s = { bridge: name, subnet: cidrString(subnet), gateway, leases: {} };
      writeState(s);
    }
    return s;
  }
  // Create it: with a fresh subnet check (routes may have changed since the state was written).
  const subnet = s ? parseCidr(s.subnet) : chooseSubnet(settings);
  if (s) {
    const hit = collision(subnet, name, hostRoutes());
    if (hit) throw new SkiffError(`subnet ${s.subnet} of bridge ${name} now overlaps the host route "${hit.text}"; run 'skiff network prune' and configure another subnet`);
  }
  // A user-defined network may have its own gateway (--gateway) and keeps its name and flags.
  const gateway = s?.gateway ?? formatIPv4(gatewayOf(subnet));
  ipSync([`link add ${name} type bridge`, `addr add ${gateway}/${subnet.prefix} brd + dev ${name}`, `link set ${name} up`]);
  s = { ...(s ?? {}), bridge: name, subnet: cidrString(subnet), gateway, leases: s?.leases ?? {} };
  writeState(s);
  return s;
}

/** Runs every step, even after one fails; then throws the first failure. */
export function allSteps(steps: Array<() => void>): void {
  let first: unknown;
  for (const step of steps) {
    try {
      step();
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}

/** Deletes the bridge, its table, rules and state (its leases must be gone). */
export function removeBridge(bridge: string): void {
  allSteps([
    () => deleteTable(bridge),
    () => forwardAcceptRelease(bridge),
    () => deleteLink(bridge),
    () => forwardingRelease(bridge),
    () => rmSync(stateDir(bridge), { recursive: true, force: true }),
  ]);
}

/** The tools the bridge network calls, checked before anything is made (a clear error, nothing to undo). */
export function requireBridgeTools(): void {
  for (const [cmd, pkg] of [['ip', 'iproute2'], ['nft', 'nftables']]) {
    const p = tool(cmd);
    if (!p.startsWith('/') || !existsSync(p)) throw missingTool(cmd, pkg);
  }
}

// ---- nftables --------------------------------------------------------------------------

/** One nft transaction, in this process where libnftables loads (see nftlib.ts). */
function nft(script: string): void {
  const nftPath = tool('nft');
  let r;
  try {
    r = nftScript(script, nftPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missingTool('nft', 'nftables');
    throw e;
  }
  if (!r.ok) throw new SkiffError(`nft -f - failed: ${r.err}\n${script.trim()}`);
}

export function tableExists(bridge: string): boolean {
  if (!existsSync(tool('nft'))) return false;
  return nftScript(`list table ip ${tableName(bridge)}\n`, tool('nft')).ok;
}

export function deleteTable(bridge: string): void {
  const t = tableName(bridge);
  // Without nft there is no table skiff could have made.
  if (!existsSync(tool('nft'))) return;
  try {
    nft(`table ip ${t} {}\ndelete table ip ${t}\n`);
  } catch (e) {
    if (!(e instanceof SkiffError) || !/No such file|does not exist/.test(e.message)) throw e;
  }
}

/** The whole table for a bridge's leases, as one nft script. */
export function renderTable(s: BridgeState, userlandProxy: boolean): string {
  const t = tableName(s.bridge);
  const br = JSON.stringify(s.bridge);
  const rules: string[] = [];
  for (const l of Object.values(s.leases).sort((a, b) => a.id.localeCompare(b.id))) {
    for (const p of l.ports) {
      const loopback = p.hostIp.startsWith('127.');
      // Loopback clients reach the userland proxy unless it is turned off.
      if (loopback && userlandProxy) continue;
      const daddr = p.hostIp && p.hostIp !== '0.0.0.0' ? `ip daddr ${p.hostIp} ` : '';
      rules.push(`    ${daddr}${p.proto} dport ${p.hostPort} counter dnat to ${l.ip}:${p.containerPort} comment "${l.id.slice(0, 12)}"`);
    }
  }
  return [
    `table ip ${t} {}`,
    `delete table ip ${t}`,
    `table ip ${t} {`,
    // Published ports, for traffic to any address of this host that does not come from the bridge itself
    // (containers reach published ports through the proxy, which also makes hairpin traffic work).
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    iifname != ${br} fib daddr type local jump published`,
    '  }',
    // ... and for this host's own processes.
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    `    ${userlandProxy ? 'ip daddr != 127.0.0.0/8 ' : ''}fib daddr type local jump published`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    // Egress: containers leave with the host's address, as Docker's MASQUERADE rule does.
    ...(s.internal ? [] : [`    ip saddr ${s.subnet} oifname != ${br} masquerade`]),
    ...(userlandProxy ? [] : [`    ip saddr 127.0.0.0/8 oifname ${br} masquerade`]),
    '  }',
    '  chain published {',
    ...rules,
    '  }',
    // A user-defined network reaches no other bridge and is reached from none (Docker's isolation between
    // networks), the default bridge included; an --internal one reaches nothing off its bridge at all.
    // A drop here is final even if iptables' FORWARD accepts (every base chain at the hook sees the packet).
    ...(s.network ? [
      '  chain isolate {',
      '    type filter hook forward priority filter; policy accept;',
      s.internal ? `    iifname ${br} oifname != ${br} counter drop` : `    iifname ${br} oifname != ${br} meta oifkind "bridge" counter drop`,
      s.internal ? `    oifname ${br} iifname != ${br} counter drop` : `    oifname ${br} iifname != ${br} meta iifkind "bridge" counter drop`,
      '  }',
    ] : []),
    // Without the proxy, route_localnet is on for the bridge; packets that containers address to 127/8
    // themselves must still not reach the host's loopback services (CVE-2020-8558).
    ...(userlandProxy ? [] : [
      '  chain martians {',
      '    type filter hook prerouting priority raw; policy accept;',
      `    iifname ${br} ip daddr 127.0.0.0/8 drop`,
      '  }',
    ]),
    '}',
    '',
  ].join('\n');
}

function setRouteLocalnet(s: BridgeState, userlandProxy: boolean): void {
  // route_localnet lets DNAT'd loopback traffic leave through the bridge (only without the proxy).
  try {
    writeFileSync(`/proc/sys/net/ipv4/conf/${s.bridge}/route_localnet`, userlandProxy ? '0' : '1');
  } catch {
    // the bridge is gone; the nft script still applies
  }
}

/** Makes the kernel match the state: the table while there are leases, nothing after the last. */
export function applyRules(s: BridgeState, userlandProxy: boolean): void {
  if (Object.keys(s.leases).length === 0) {
    deleteTable(s.bridge);
    return;
  }
  setRouteLocalnet(s, userlandProxy);
  nft(renderTable(s, userlandProxy));
}

// ---- ip_forward ------------------------------------------------------------------------

const FORWARD = '/proc/sys/net/ipv4/ip_forward';
interface ForwardState { original: string; bridges: string[] }
const forwardFile = () => join(netDir(), 'forward.json');
const forwardLock = () => join(netDir(), 'forward.lock');

function readForward(): string {
  return readFileSync(FORWARD, 'utf8').trim();
}

/** Turns ip_forward on for this bridge, remembering the value found when the first bridge needed it. */
export function forwardingAcquire(bridge: string): void {
  withFileLock(forwardLock(), () => {
    let f = readJsonOr<ForwardState | undefined>(forwardFile(), undefined);
    if (!f) f = { original: readForward(), bridges: [] };
    if (readForward() !== '1') writeFileSync(FORWARD, '1');
    if (!f.bridges.includes(bridge)) f.bridges.push(bridge);
    writeJsonAtomic(forwardFile(), f);
  });
}

/** This bridge no longer needs forwarding; the last one out restores the value found. */
export function forwardingRelease(bridge: string): void {
  if (!existsSync(forwardFile())) return;
  withFileLock(forwardLock(), () => {
    const f = readJsonOr<ForwardState | undefined>(forwardFile(), undefined);
    if (!f) return;
    f.bridges = f.bridges.filter((b) => b !== bridge);
    if (f.bridges.length) {
      writeJsonAtomic(forwardFile(), f);
      return;
    }
    if (f.original !== '1' && readForward() === '1') writeFileSync(FORWARD, f.original || '0');
    rmSync(forwardFile(), { force: true });
  });
}

// ---- the host's FORWARD chain ------------------------------------------------------------
//
// Docker, ufw and firewalld set the iptables FORWARD policy to DROP, and with
// br_netfilter (bridge-nf-call-iptables=1) even traffic between two containers
// on the bridge passes that chain. An accept in skiff's own nftables table
// would not help: every base chain at the forward hook sees the packet, and a
// drop in any of them is final. So, as Docker does, skiff puts its accept
// rules into the chain that drops: iptables' filter FORWARD (through the
// iptables tools, so iptables-nft and iptables-legacy both understand them),
// tagged with a comment, added with a bridge's first lease and removed with
// its last. A host without iptables' FORWARD chain gets nothing.

const acceptComment = (bridge: string) => `skiff ${bridge}`;

/** The rules, in iptables-save syntax without "-A FORWARD". */
export function forwardAcceptRules(bridge: string): string[] {
  const c = `-m comment --comment "${acceptComment(bridge)}"`;
  return [
    // Replies to the containers' own connections, and connections to published ports (DNAT'd to a container).
    `-o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`,
    `-o ${bridge} -m conntrack --ctstate DNAT ${c} -j ACCEPT`,
    // Everything from a container: to another container on the bridge, or out.
    `-i ${bridge} ${c} -j ACCEPT`,
  ];
}

/** Which iptables iptables-save is: Debian's alternatives point at xtables-nft-multi or xtables-legacy-multi. */
function iptablesVariant(save: string): 'nft' | 'legacy' | undefined {
  try {
    const real = basename(realpathSync(save));
    return real.includes('nft') ? 'nft' : real.includes('legacy') ? 'legacy' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * iptables-nft keeps FORWARD in nftables' `ip filter` table, so one
 * in-process listing (no iptables-save) finds skiff's rules there: those
 * matching the bridge by name (-i/-o) that carry an iptables comment match
 * and accept. Returns their handles; undefined when there is no FORWARD
 * chain; null when this host's iptables is not iptables-nft (or nftables is
 * not there to ask).
 */
function nftForwardHandles(bridge: string): number[] | undefined | null {
  const save = tool('iptables-save');
  if (!existsSync(save)) return undefined;
  if (!forwardCheckedInProcess()) return null;
  const r = nftScript('list chain ip filter FORWARD\n', tool('nft'), true);
  if (!r.ok) return /No such file or directory/.test(r.err) ? undefined : null;
  type Expr = { match?: { left?: { meta?: { key?: string } }; right?: unknown }; xt?: { name?: string }; accept?: null };
  let items: Array<{ rule?: { chain: string; handle: number; expr: Expr[] } }>;
  try {
    items = (JSON.parse(r.out.slice(0, r.out.lastIndexOf('}') + 1)) as { nftables: typeof items }).nftables;
  } catch {
    return null;
  }
  const ours = (e: Expr[]) =>
    e.some((x) => ['iifname', 'oifname'].includes(x.match?.left?.meta?.key ?? '') && x.match?.right === bridge) &&
    e.some((x) => x.xt?.name === 'comment') && e.some((x) => 'accept' in x);
  return items.flatMap((i) => (i.rule && i.rule.chain === 'FORWARD' && ours(i.rule.expr) ? [i.rule.handle] : []));
}

/** Whether skiff's FORWARD rules can be found without running iptables-save: iptables is iptables-nft. */
function forwardCheckedInProcess(): boolean {
  const save = tool('iptables-save');
  return existsSync(save) && iptablesVariant(save) === 'nft' && existsSync(tool('nft'));
}

/** Deletes rules of FORWARD by handle, in one transaction; false if that did not work (then iptables must). */
function nftDeleteForward(handles: number[]): boolean {
  return nftScript(handles.map((h) => `delete rule ip filter FORWARD handle ${h}\n`).join(''), tool('nft')).ok;
}

/** skiff's rules for `bridge` now in FORWARD (as iptables-save prints them), or undefined when there is no FORWARD chain or no iptables. */
function forwardChainRules(bridge: string): string[] | undefined {
  const save = tool('iptables-save');
  if (!existsSync(save)) return undefined;
  let out: string;
  try {
    out = execFileSync(save, ['-t', 'filter'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  // iptables-nft prints an empty filter table even when none exists: ask nft whether the chain is really there.
  if (/\(nf_tables\)/.test(out)) {
    try {
      execFileSync(tool('nft'), ['list', 'chain', 'ip', 'filter', 'FORWARD'], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
  }
  if (!/^:FORWARD /m.test(out)) return undefined;
  const tag = `--comment "${acceptComment(bridge)}"`;
  return out.split('\n').filter((l) => l.startsWith('-A FORWARD ') && l.includes(tag)).map((l) => l.slice('-A FORWARD '.length));
}

function iptablesRestore(lines: string[]): void {
  runSync('iptables-restore', ['--noflush'], ['*filter', ...lines, 'COMMIT', ''].join('\n'), 'iptables');
}

/** iptables-restore input that puts the accept rules for `bridge` at the top of FORWARD, or undefined when they are there (or there is no FORWARD). */
function acquireScript(bridge: string): string | undefined {
  const rules = forwardAcceptRules(bridge);
  const insert = (rs: string[]) => ['*filter', ...[...rs].reverse().map((r) => `-I FORWARD 1 ${r}`), 'COMMIT', ''].join('\n');
  const handles = nftForwardHandles(bridge);
  if (handles === undefined) return undefined;
  if (handles) {
    if (handles.length === rules.length) return undefined;
    // A partial set (someone deleted one): start over.
    if (handles.length && !nftDeleteForward(handles)) return acquireScriptSlow(bridge, rules, insert);
    return insert(rules);
  }
  return acquireScriptSlow(bridge, rules, insert);
}

function acquireScriptSlow(bridge: string, rules: string[], insert: (rs: string[]) => string): string | undefined {
  const present = forwardChainRules(bridge);
  if (!present) return undefined;
  const missing = rules.filter((r) => !present.includes(r));
  return missing.length ? insert(missing) : undefined;
}

/** Puts the accept rules for `bridge` at the top of FORWARD, unless they are there already. */
export function forwardAcceptAcquire(bridge: string): void {
  const script = acquireScript(bridge);
  if (script) runSync('iptables-restore', ['--noflush'], script, 'iptables');
}

/** Removes every rule skiff put into FORWARD for `bridge`. */
export function forwardAcceptRelease(bridge: string): void {
  const handles = nftForwardHandles(bridge);
  if (handles === undefined) return;
  // In process, as one nftables transaction: no iptables-save, no iptables-restore (whose exit would also
  // wait out the grace period that deleting rules costs).
  if (handles && (handles.length === 0 || nftDeleteForward(handles))) return;
  const present = forwardChainRules(bridge);
  if (present?.length) iptablesRestore(present.map((r) => `-D FORWARD ${r}`));
}
