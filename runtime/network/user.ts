// User-defined networks (`skiff network create NAME`, compose's project
// networks): each one is Docker's bridge driver, i.e. its own Linux bridge,
// subnet and nftables table, with the same host-side machinery as the
// default bridge (host.ts: state.json with one lease per container endpoint,
// `ip skiff-<bridge>` rendered from the leases, ip_forward, FORWARD accepts).
//
//   $SKIFF_ROOT/networks/<id>.json      the network: name, subnet, labels, bridge
//   /run/skiff/net/<bridge>/state.json  its leases (host.ts), network: NAME set
//
// The record belongs to the root (like containers and volumes); the bridge and
// its leases to the host. The bridge is made at create and removed at rm, as
// in Docker, so `ip link` shows a network as soon as it exists.
//
// Isolation: a user network's table drops forwarding between its bridge and any
// other bridge (see renderTable), so two networks only meet through a
// container connected to both.
//
// Name resolution: Docker runs an embedded DNS server at 127.0.0.11 in every
// container. skiff keeps each member's /etc/hosts current instead (hosts.ts):
// busybox and static binaries read /etc/hosts, while resolving through glibc's
// NSS inside these containers crashes (PLATFORM.md), and a resolver would be a
// daemon per container that skiff, being daemonless, does not have.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { config } from '../config.js';
import { SkiffError } from '../util/errors.js';
import { readJsonOr, writeJsonAtomic } from '../util/json.js';
import { paths, skiffRoot } from '../util/paths.js';
import {
  bridgeLock, deleteLink, ensureBridge, hostRoutes, netDir, ipSync, knownBridges, linkExists, readState, removeBridge, requireBridgeTools, staleLeases, withFileLock, writeState,
  type BridgeState,
} from './host.js';
import { cidrString, contains, formatIPv4, gatewayOf, overlaps, parseCidr, parseIPv4, type Cidr } from './ipv4.js';

/** A network error with Docker's HTTP status (the API answers with it; the CLI prints the message). */
export class NetworkError extends SkiffError {
  constructor(message: string, readonly status: number) {
    super(message, 1);
  }
}

export interface UserNetwork {
  Name: string;
  Id: string;
  Created: string;
  Driver: 'bridge';
  /** The Linux bridge: a skiff-owned name derived from the id (see bridgeNameFor). */
  Bridge: string;
  Subnet: string;
  Gateway: string;
  Internal: boolean;
  Attachable: boolean;
  Labels: Record<string, string>;
  Options: Record<string, string>;
}

export const PREDEFINED = ['bridge', 'host', 'none'];
/** Docker's own pools are 172.17-31/16 and 192.168/16 in /20s; skiff's default bridge takes 172.27-31 and 10.88-89. */
export const DEFAULT_POOL = '10.100.0.0/16';
export const DEFAULT_POOL_SIZE = 24;
export const DEFAULT_BRIDGE_PREFIX = 'skbr';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const dir = () => join(skiffRoot(), 'networks');
const recordFile = (id: string) => join(dir(), `${id}.json`);
const rootLock = () => join(paths.locks(), 'networks.lock');

/** Where subnets of new networks come from: config "network-pool" / SKIFF_NETWORK_POOL ("10.100.0.0/16", in /24s unless "/16:26"). */
export function networkPool(env: NodeJS.ProcessEnv = process.env): { pool: Cidr; size: number } {
  const text = env.SKIFF_NETWORK_POOL || config()['network-pool'] || `${DEFAULT_POOL}:${DEFAULT_POOL_SIZE}`;
  const [cidr, sizeText] = text.split(':');
  const pool = parseCidr(cidr, 'network pool');
  const size = sizeText === undefined ? Math.max(pool.prefix, DEFAULT_POOL_SIZE) : Number(sizeText);
  if (!Number.isInteger(size) || size < pool.prefix || size > 30) throw new SkiffError(`invalid network pool "${text}": want CIDR[:SIZE] with SIZE between /${pool.prefix} and /30`);
  return { pool, size };
}

/** The bridge of a new network: PREFIX + the id's first hex digits, 15 characters (IFNAMSIZ - 1). */
function bridgeNameFor(id: string, env: NodeJS.ProcessEnv = process.env): string {
  const prefix = env.SKIFF_NETWORK_BRIDGE_PREFIX || config()['network-bridge-prefix'] || DEFAULT_BRIDGE_PREFIX;
  if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,7}$/.test(prefix)) throw new SkiffError(`invalid network bridge prefix "${prefix}": 1-8 characters, a letter first`);
  return `${prefix}${id}`.slice(0, 15);
}

export function listNetworks(): UserNetwork[] {
  let files: string[];
  try {
    files = readdirSync(dir()).filter((f) => /^[0-9a-f]{64}\.json$/.test(f));
  } catch {
    return [];
  }
  const out: UserNetwork[] = [];
  for (const f of files) {
    const n = readJsonOr<UserNetwork | undefined>(join(dir(), f), undefined);
    if (n) out.push(n);
  }
  return out.sort((a, b) => a.Created.localeCompare(b.Created) || a.Name.localeCompare(b.Name));
}

/** By name, full id or unique id prefix (Docker's order); undefined when none. */
export function lookupNetwork(ref: string): UserNetwork | undefined {
  const all = listNetworks();
  const exact = all.find((n) => n.Id === ref) ?? all.find((n) => n.Name === ref);
  if (exact) return exact;
  if (!/^[0-9a-f]+$/.test(ref)) return undefined;
  const hits = all.filter((n) => n.Id.startsWith(ref));
  return hits.length === 1 ? hits[0] : undefined;
}

export function findUserNetwork(ref: string): UserNetwork {
  const n = lookupNetwork(ref);
  if (!n) throw new NetworkError(`network ${ref} not found`, 404);
  return n;
}

/** Subnets skiff's bridges use (any root) and the host's routes: what a new subnet must not overlap. */
function takenSubnets(): Array<{ cidr: Cidr; what: string }> {
  const out: Array<{ cidr: Cidr; what: string }> = [];
  for (const b of knownBridges()) {
    const s = readState(b);
    if (s) out.push({ cidr: parseCidr(s.subnet), what: `bridge ${b}` });
  }
  for (const r of hostRoutes()) {
    // Local and broadcast routes of a bridge's own address: covered by its subnet route.
    if (r.dst.prefix === 32 && r.dst.base !== 0) continue;
    out.push({ cidr: r.dst, what: `host route "${r.text}"` });
  }
  return out;
}

function allocateSubnet(): Cidr {
  const { pool, size } = networkPool();
  const taken = takenSubnets();
  const step = 2 ** (32 - size);
  const count = 2 ** (size - pool.prefix);
  for (let i = 0; i < count; i++) {
    const c = { base: (pool.base + i * step) >>> 0, prefix: size };
    if (!taken.some((t) => overlaps(t.cidr, c))) return c;
  }
  throw new NetworkError(`could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network (pool ${cidrString(pool)} in /${size}s is full)`, 403);
}

export interface CreateNetworkOptions {
  driver?: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

export function createNetwork(name: string, o: CreateNetworkOptions = {}): UserNetwork {
  if (!NAME_RE.test(name)) throw new NetworkError(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, 400);
  const driver = o.driver || 'bridge';
  if (driver !== 'bridge') {
    if (['host', 'null', 'overlay', 'macvlan', 'ipvlan'].includes(driver)) throw new NetworkError(`skiff cannot create networks with the ${driver} driver, only bridge`, 400);
    throw new NetworkError(`plugin "${driver}" not found`, 404);
  }
  if (o.gateway && !o.subnet) throw new NetworkError('invalid pool request: a gateway needs a subnet (--subnet)', 400);
  const opts = { ...(o.options ?? {}) };
  const bridgeOpt = opts['com.docker.network.bridge.name'];
  if (bridgeOpt !== undefined && !/^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/.test(bridgeOpt)) throw new NetworkError(`invalid bridge name "${bridgeOpt}"`, 400);
  let subnet: Cidr | undefined;
  let gateway: number | undefined;
  if (o.subnet) {
    try {
      subnet = parseCidr(o.subnet);
    } catch (e) {
      throw new NetworkError((e as Error).message, 400);
    }
    if (o.gateway) {
      gateway = parseIPv4(o.gateway);
      if (gateway === undefined) throw new NetworkError(`invalid gateway address "${o.gateway}"`, 400);
      if (!contains(subnet, gateway)) throw new NetworkError(`invalid gateway: ${o.gateway} is not in the subnet ${o.subnet}`, 400);
    }
  }
  requireBridgeTools();
  return withFileLock(rootLock(), () => {
    if (PREDEFINED.includes(name) || listNetworks().some((n) => n.Name === name)) throw new NetworkError(`network with name ${name} already exists`, 409);
    const id = createHash('sha256').update(`${name}:${Date.now()}:${randomBytes(16).toString('hex')}`).digest('hex');
    const bridge = bridgeOpt ?? bridgeNameFor(id);
    if (linkExists(bridge) || knownBridges().includes(bridge)) throw new NetworkError(`bridge ${bridge} already exists`, 409);
    // Host-wide: another root allocating at the same moment must see this subnet before it picks.
    return withFileLock(join(netDir(), 'networks.lock'), () => {
      if (subnet) {
        const hit = takenSubnets().find((t) => overlaps(t.cidr, subnet!));
        if (hit) throw new NetworkError(`Pool overlaps with other one on this address space (${cidrString(subnet)} overlaps ${hit.what})`, 403);
      }
      const c = subnet ?? allocateSubnet();
      const gw = formatIPv4(gateway ?? gatewayOf(c));
      const s: BridgeState = { bridge, subnet: cidrString(c), gateway: gw, leases: {}, network: name, ...(o.internal ? { internal: true } : {}) };
      const n: UserNetwork = {
        Name: name, Id: id, Created: new Date().toISOString(), Driver: 'bridge', Bridge: bridge, Subnet: s.subnet, Gateway: gw,
        Internal: !!o.internal, Attachable: !!o.attachable, Labels: o.labels ?? {}, Options: opts,
      };
      // State first: if the interface cannot be made, removeBridge undoes both.
      writeState(s);
      try {
        ipSync([`link add ${bridge} type bridge`, `addr add ${gw}/${c.prefix} brd + dev ${bridge}`, `link set ${bridge} up`]);
        mkdirSync(dir(), { recursive: true, mode: 0o700 });
        writeJsonAtomic(recordFile(id), n);
      } catch (e) {
        removeBridge(bridge);
        throw e;
      }
      return n;
    });
  });
}

/**
 * Under the bridge's lock, at a container's start: the network's state, made
 * again from the record if /run was emptied (a reboot), and its bridge
 * re-created if someone deleted it.
 */
export function ensureUserBridge(n: UserNetwork): BridgeState {
  // The caller found the network without this lock; `network rm` may have
  // removed it since (it removes the record under this same lock). Making the
  // bridge again from the stale record would leave a bridge no network owns.
  if (!existsSync(recordFile(n.Id))) {
    // lockFd made the directory again for its lock file; nothing else is in it.
    if (!readState(n.Bridge)) rmSync(join(bridgeLock(n.Bridge), '..'), { recursive: true, force: true });
    throw new NetworkError(`network ${n.Name} not found`, 404);
  }
  if (!readState(n.Bridge)) {
    writeState({ bridge: n.Bridge, subnet: n.Subnet, gateway: n.Gateway, leases: {}, network: n.Name, ...(n.Internal ? { internal: true } : {}) });
  }
  return ensureBridge({ bridge: n.Bridge, subnet: n.Subnet, portRange: [0, 0], userlandProxy: false });
}

/** Names of the containers with an address on the network (stale leases dropped on the way); under the bridge's lock. */
function activeEndpoints(n: UserNetwork): string[] {
  const s = readState(n.Bridge);
  if (!s) return [];
  const stale = staleLeases(s);
  for (const l of stale) {
    deleteLink(l.veth);
    delete s.leases[l.id];
  }
  if (stale.length) writeState(s);
  return Object.values(s.leases).map((l) => l.name.slice(1));
}

export function removeNetwork(ref: string): UserNetwork {
  if (PREDEFINED.includes(ref)) throw new NetworkError(`${ref} is a pre-defined network and cannot be removed`, 403);
  return withFileLock(rootLock(), () => {
    const n = findUserNetwork(ref);
    // Check and removal in one section of the bridge's lock, the one a start
    // leases under: no start can lease between them, and one waiting for the
    // lock finds the record gone (ensureUserBridge) instead of making the bridge again.
    withFileLock(bridgeLock(n.Bridge), () => {
      if (activeEndpoints(n).length) throw new NetworkError(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`, 409);
      removeBridge(n.Bridge);
      rmSync(recordFile(n.Id), { force: true });
    });
    return n;
  });
}

/** Removes every unused user-defined network that `keep` does not exclude; returns the names removed. */
export function pruneNetworks(select: (n: UserNetwork) => boolean = () => true): string[] {
  const removed: string[] = [];
  for (const n of listNetworks()) {
    if (!select(n)) continue;
    try {
      removeNetwork(n.Id);
      removed.push(n.Name);
    } catch (e) {
      if (!(e instanceof NetworkError && e.status === 409)) throw e;
    }
  }
  return removed;
}

/** Docker's `network inspect` object for a user-defined network. */
export function inspectUserNetwork(n: UserNetwork): Record<string, unknown> {
  const s = readState(n.Bridge);
  const prefix = parseCidr(n.Subnet).prefix;
  const containers: Record<string, unknown> = {};
  for (const l of Object.values(s?.leases ?? {})) {
    if (l.root !== skiffRoot() || !existsSync(join(paths.container(l.id), 'state.json'))) continue;
    containers[l.id] = {
      Name: l.name.slice(1), EndpointID: createHash('sha256').update(`${l.id}:${n.Id}`).digest('hex'), MacAddress: l.mac,
      IPv4Address: `${l.ip}/${prefix}`, IPv6Address: '',
    };
  }
  return {
    Name: n.Name, Id: n.Id, Created: n.Created, Scope: 'local', Driver: n.Driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.Subnet, Gateway: n.Gateway }] },
    Internal: n.Internal, Attachable: n.Attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: { 'com.docker.network.bridge.name': n.Bridge, ...n.Options }, Labels: n.Labels,
  };
}
