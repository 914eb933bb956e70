// Container networking: the seams the container lifecycle calls.
//
// create  -> networkConfig()   validate flags, record NetworkMode, ports, links
// start   -> prepareNetwork()  before clone: lease an IP, bind the published
//                              ports, /etc/hosts lines and link env vars
//         -> attachNetwork()   after clone, while the child makes its procfs: veth pair, eth0's
//                              address, MAC and default route, lo up
// monitor -> startProxies()    the userland proxies (bound by prepareNetwork in
//                              this same process) live as long as the monitor
// exit/rm -> releaseNetwork()  idempotent: proxies, veth, lease, rules
//
// Modes: none (own empty netns with lo), host (no netns), container:NAME
// (joins NAME's netns), bridge (the default; Docker's docker0 model):
//
//   container netns            host
//   eth0 172.30.0.2/16  <-veth->  vethXXXXXXXXXXX -- skiff0 172.30.0.1/16 (gateway)
//   default via 172.30.0.1         nft table ip skiff-skiff0: DNAT for published
//                                  ports, MASQUERADE for egress; ip_forward on
//
// Published ports take two paths, as in Docker with its userland proxy:
// traffic to a host address from outside or from this host's processes is
// DNAT'd in the kernel; loopback clients (127.0.0.1:HOSTPORT) and containers
// dialing a host address reach a proxy socket the monitor holds on the host
// port. That socket is bound before the container exists, so it is also the
// port's reservation (see proxy.ts). Config "userland-proxy": false sends
// loopback clients through DNAT as well (route_localnet on the bridge).
//
// User-defined networks (user.ts) work the same way, each with its own
// bridge: the container's NetworkMode network is eth0 (with the default
// route and the published ports), every other user network it is connected
// to (NetworkSettings.Networks, `network connect`) is eth1, eth2, ...; peers'
// names reach it through /etc/hosts (hosts.ts).
//
// Addresses: a lease per container start, the lowest free address of the
// subnet (or --ip), released at stop and rm. A container gets no fixed IP
// across restarts unless it was created with --ip, as in Docker.
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { SkiffError } from '../util/errors.js';
import { isSameProcess, procState } from '../util/proc.js';
import { skiffRoot } from '../util/paths.js';
import type { ContainerRecord } from '../container/model.js';
import * as store from '../container/store.js';
import {
  allSteps, applyRules, ensureBridge as ensureDefaultBridge, bridgeLock, forwardAcceptAcquire, forwardAcceptRelease, requireBridgeTools, deleteLink, forwardingAcquire, forwardingRelease, knownBridges, readState,
  staleLeases, vethName, withFileLock, withFileLockAsync, writeState, deleteTable, type BridgeState, type Lease,
} from './host.js';
import { refreshHosts } from './hosts.js';
import { ensureUserBridge, findUserNetwork, lookupNetwork, NetworkError, type UserNetwork } from './user.js';
import { broadcast, contains, formatIPv4, macFor, maskOf, parseCidr, parseIPv4 } from './ipv4.js';
import { plugVeth } from '../../native-bindings/netlink.js';
import { dockerLinks, linkEnv, linkHostsLine, namesOf, parseStoredLink } from './links.js';
import { apiPorts, displayablePorts, parseExpose, parsePublish, splitKey, type Binding, type PortBinding } from './ports.js';
import { networkId } from './manage.js';
import { bindPorts, closePorts, type BindRequest } from './proxy.js';
import { netSettings } from './settings.js';

export { dockerLinks, namesOf };

export interface NetworkOptions {
  network?: string;
  ip?: string;
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  links?: string[];
  /** --network-alias: more names on a user-defined network. */
  aliases?: string[];
}

/** What create records about networking (HostConfig fields, Docker's names). */
export interface NetworkConfig {
  NetworkMode: string;
  PortBindings: Record<string, PortBinding[]>;
  PublishAllPorts: boolean;
  /** "target:alias"; `inspect` shows Docker's "/target:/name/alias" (see dockerLinks). */
  Links: string[];
  ExposedPorts: Record<string, object>;
  /** --ip: kept in NetworkSettings.Networks.<network>.IPAMConfig (see initialNetworkSettings). */
  IPAddress?: string;
  /** --network-alias, and the network's id when it is user-defined. */
  Aliases?: string[];
  NetworkID?: string;
}

export interface BridgeEndpoint {
  /** Docker's network name: "bridge" or a user-defined network's. */
  network: string;
  networkId: string;
  bridge: string;
  /** Inside the container: eth0 for the NetworkMode network, then eth1... */
  ifname: string;
  aliases: string[];
  ip: string;
  mac: string;
  gateway: string;
  prefixLen: number;
  veth: string;
  ports: Binding[];
}

export interface PreparedNetwork {
  /** Whether the container gets its own network namespace (CLONE_NEWNET). */
  newNetns: boolean;
  /** An open /proc/PID/ns/net fd to join instead (--network container:NAME), or -1. */
  joinNetnsFd: number;
  /** Extra /etc/hosts lines (own address, links). */
  hostsLines: string[];
  /** Extra environment (link variables). */
  env: string[];
  /** Set on the bridge network: what prepareNetwork leased and bound (the NetworkMode network's). */
  endpoint?: BridgeEndpoint;
  /** Every endpoint, the primary one first. */
  endpoints: BridgeEndpoint[];
}

type NetworkSettings = ContainerRecord['NetworkSettings'];

const isRunning = (r: ContainerRecord) => r.State.Running && isSameProcess(r.State.Pid, r.Skiff.PidStartTime);
const isBuiltin = (mode: string) => mode === 'bridge' || mode === 'host' || mode === 'none' || mode.startsWith('container:');

/** Normalizes --network: Docker's "default" is the bridge. */
function modeOf(network: string | undefined): string {
  const m = network === undefined || network === '' || network === 'default' ? 'bridge' : network;
  return m;
}

// ---- create ------------------------------------------------------------------

export function networkConfig(opts: NetworkOptions, imageExposed: Record<string, object> = {}): NetworkConfig {
  let mode = modeOf(opts.network);
  if (mode.startsWith('container:')) {
    const ref = mode.slice('container:'.length);
    if (!ref) throw new SkiffError('invalid network mode: container: needs a container name or ID');
    let target: ContainerRecord;
    try {
      target = store.find(ref);
    } catch {
      throw new SkiffError(`No such container: ${ref}`);
    }
    mode = `container:${target.Id}`;
    if (opts.publish?.length || opts.publishAll) throw new SkiffError('conflicting options: port publishing and the container type network mode');
    if (opts.links?.length) throw new SkiffError("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    if (opts.ip) throw new SkiffError('conflicting options: --ip and the container type network mode');
  }
  let userNet: UserNetwork | undefined;
  if (!isBuiltin(mode)) {
    userNet = lookupNetwork(mode);
    // run/create exit 125 as in Docker (the API answers 404 from the wording).
    if (!userNet) throw new SkiffError(`network ${mode} not found`);
    mode = userNet.Name;
  }
  if (opts.aliases?.length) {
    if (!userNet) throw new SkiffError('network-scoped alias is supported only for containers in user defined networks');
    for (const a of opts.aliases) if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a)) throw new SkiffError(`invalid network alias: ${a}`);
  }
  if (mode === 'host' && opts.links?.length) {
    throw new SkiffError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  }
  if (opts.ip) {
    if (parseIPv4(opts.ip) === undefined) throw new SkiffError(`invalid IPv4 address: ${opts.ip}`);
    if (mode !== 'bridge' && !userNet) throw new SkiffError(`--ip needs the bridge network or a user-defined network (not ${mode})`);
  }
  // Ports: published ones are exposed too (Docker adds them to Config.ExposedPorts).
  const bindings = parsePublish(opts.publish ?? []);
  const exposed: Record<string, object> = { ...imageExposed };
  for (const e of opts.expose ?? []) for (const k of parseExpose(e)) exposed[k] = {};
  for (const k of Object.keys(bindings)) exposed[k] = {};
  if (mode === 'host' && (opts.publish?.length || opts.publishAll)) {
    process.stderr.write('WARNING: Published ports are discarded when using host network mode\n');
  }
  // Links: the target must exist now; it must run when this container starts.
  const links: string[] = [];
  for (const l of opts.links ?? []) {
    const [name, alias = '', ...rest] = l.split(':');
    if (!name || rest.length || (l.includes(':') && !alias)) throw new SkiffError(`invalid link format: ${l} (want NAME[:ALIAS])`);
    let target: ContainerRecord;
    try {
      target = store.find(name);
    } catch {
      throw new SkiffError(`could not get container for ${name}: No such container: ${name}`);
    }
    const tname = target.Name.slice(1);
    const a = alias || tname;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a)) throw new SkiffError(`invalid link alias: ${a}`);
    if (links.some((x) => parseStoredLink(x).alias === a)) throw new SkiffError(`conflicting link alias: ${a}`);
    links.push(`${tname}:${a}`);
  }
  return {
    NetworkMode: mode, PortBindings: bindings, PublishAllPorts: !!opts.publishAll, Links: links, ExposedPorts: exposed,
    ...(opts.ip ? { IPAddress: opts.ip } : {}),
    ...(userNet ? { NetworkID: userNet.Id, Aliases: opts.aliases ?? [] } : {}),
  };
}

/** The NetworkSettings a new record starts with; it carries --ip as Docker does (Networks.bridge.IPAMConfig). */
export function initialNetworkSettings(net: NetworkConfig): NetworkSettings {
  return {
    IPAddress: '', Gateway: '', MacAddress: '', IPPrefixLen: 0, Ports: {},
    Networks: net.NetworkID
      ? { [net.NetworkMode]: endpointConfig(net.NetworkID, net.Aliases ?? [], net.IPAddress) }
      : net.IPAddress ? { bridge: { IPAMConfig: { IPv4Address: net.IPAddress } } } : {},
  };
}

/** A user network's entry in NetworkSettings.Networks before any start: what connect/create asked for. */
function endpointConfig(id: string, aliases: string[], ip?: string): Record<string, unknown> {
  return endpointSettings({ networkId: id, aliases, ipam: ip ? { IPv4Address: ip } : null });
}

interface EndpointRecord { IPAMConfig?: { IPv4Address?: string } | null; Aliases?: string[] | null; NetworkID?: string }
const endpointOf = (rec: ContainerRecord, network: string) => rec.NetworkSettings?.Networks?.[network] as EndpointRecord | undefined;

function requestedIp(rec: ContainerRecord, network = 'bridge'): string | undefined {
  return endpointOf(rec, network)?.IPAMConfig?.IPv4Address || undefined;
}

/** The user networks a container is on: its NetworkMode one, then those connected (by name). */
function userNetworksOf(rec: ContainerRecord): string[] {
  const mode = rec.HostConfig.NetworkMode;
  const nets = isBuiltin(mode) ? [] : [mode];
  for (const name of Object.keys(rec.NetworkSettings?.Networks ?? {}).sort()) if (!isBuiltin(name) && name !== mode) nets.push(name);
  return nets;
}

// ---- start ---------------------------------------------------------------------

function resolveLinks(rec: ContainerRecord): { env: string[]; hosts: string[] } {
  const env: string[] = [];
  const hosts: string[] = [];
  for (const l of rec.HostConfig.Links ?? []) {
    const { target, alias } = parseStoredLink(l);
    let child: ContainerRecord;
    try {
      child = store.find(target);
    } catch {
      throw new SkiffError(`could not get container for ${target}: No such container: ${target}`);
    }
    if (!isRunning(child)) throw new SkiffError(`Cannot link to a non running container: ${child.Name} AS ${rec.Name}/${alias}`);
    const ip = child.NetworkSettings?.IPAddress;
    if (!ip) throw new SkiffError(`Cannot link to ${child.Name}, as it does not belong to the default network`);
    env.push(...linkEnv(alias, child, ip, rec.Name));
    hosts.push(linkHostsLine(alias, child, ip));
  }
  return { env, hosts };
}

/** Ports to bind at start: -p bindings, plus every exposed port when -P. */
function bindRequests(rec: ContainerRecord): BindRequest[] {
  const reqs: BindRequest[] = [];
  const pb = rec.HostConfig.PortBindings ?? {};
  const keys = new Set(Object.keys(pb));
  if (rec.HostConfig.PublishAllPorts) for (const k of Object.keys(rec.Config.ExposedPorts ?? {})) keys.add(k);
  for (const key of [...keys].sort((a, b) => splitKey(a).port - splitKey(b).port || a.localeCompare(b))) {
    const { port, proto } = splitKey(key);
    const list = pb[key]?.length ? pb[key] : [{ HostIp: '', HostPort: '' }];
    for (const b of list) {
      let lo = 0;
      let hi = 0;
      if (b.HostPort && b.HostPort !== '0') {
        const [a, z = a] = b.HostPort.split('-').map(Number);
        lo = a;
        hi = z;
      }
      reqs.push({ proto, hostIp: b.HostIp, lo, hi, containerPort: port });
    }
  }
  return reqs;
}

/** Ports published by other leases (their DNAT rules exist even when their proxy died). */
function takenPorts(exceptId: string): (proto: string, port: number, hostIp: string) => boolean {
  const taken: Binding[] = [];
  for (const b of knownBridges()) {
    for (const l of Object.values(readState(b)?.leases ?? {})) if (l.id !== exceptId) taken.push(...l.ports);
  }
  const any = (ip: string) => !ip || ip === '0.0.0.0';
  return (proto, port, hostIp) => taken.some((p) => p.proto === proto && p.hostPort === port && (any(p.hostIp) || any(hostIp) || p.hostIp === hostIp));
}

function pickAddress(s: BridgeState, rec: ContainerRecord, want: string | undefined): number {
  const subnet = parseCidr(s.subnet);
  const gw = parseIPv4(s.gateway)!;
  const used = new Set(Object.values(s.leases).filter((l) => l.id !== rec.Id).map((l) => parseIPv4(l.ip)!));
  const bcast = broadcast(subnet);
  if (want) {
    const ip = parseIPv4(want);
    if (ip === undefined) throw new SkiffError(`invalid IPv4 address: ${want}`);
    if (!contains(subnet, ip)) throw new SkiffError(`requested IP ${want} is not in the ${s.network ? `network ${s.network}'s` : "bridge's"} subnet ${s.subnet}`);
    if (ip === subnet.base || ip === bcast || ip === gw) throw new SkiffError(`requested IP ${want} is the network, broadcast or gateway address of ${s.subnet}`);
    if (used.has(ip)) {
      const holder = Object.values(s.leases).find((l) => l.ip === want);
      throw new SkiffError(`Address already in use: ${want} is leased to container ${holder?.name.slice(1) ?? '?'}`);
    }
    return ip;
  }
  for (let ip = subnet.base + 1; ip < bcast; ip++) {
    if (ip !== gw && !used.has(ip)) return ip;
  }
  throw new SkiffError(`no free address left in ${s.subnet} (bridge ${s.bridge})`);
}

export async function prepareNetwork(rec: ContainerRecord): Promise<PreparedNetwork> {
  const mode = rec.HostConfig.NetworkMode;
  if (mode === 'host') return { newNetns: false, joinNetnsFd: -1, hostsLines: [], env: [], endpoints: [] };
  if (mode === 'none') return { newNetns: true, joinNetnsFd: -1, hostsLines: [], env: [], endpoints: [] };
  if (mode.startsWith('container:')) {
    const ref = mode.slice('container:'.length);
    let target: ContainerRecord;
    try {
      target = store.find(ref);
    } catch {
      throw new SkiffError(`No such container: ${ref}`);
    }
    if (!isRunning(target)) throw new SkiffError(`cannot join network of a non running container: ${target.Id}`);
    let fd: number;
    try {
      fd = openSync(`/proc/${target.State.Pid}/ns/net`, 'r');
    } catch (e) {
      throw new SkiffError(`cannot join network of container ${target.Name.slice(1)}: ${(e as Error).message}`);
    }
    // The shared namespace's address, under this container's own hostname.
    const ip = target.NetworkSettings?.IPAddress;
    return { newNetns: false, joinNetnsFd: fd, hostsLines: ip ? [`${ip}\t${rec.Config.Hostname}`] : [], env: [], endpoints: [] };
  }
  // Links and tools first: a failure here leaves nothing behind.
  const links = mode === 'bridge' ? resolveLinks(rec) : { env: [], hosts: [] };
  requireBridgeTools();
  const settings = netSettings();
  const user = userNetworksOf(rec).map((name) => {
    const n = lookupNetwork(name);
    if (!n) throw new NetworkError(`network ${name} not found`, 404);
    return n;
  });
  const endpoints: BridgeEndpoint[] = [];
  try {
    if (mode === 'bridge') {
      endpoints.push(await leaseEndpoint(rec, { network: 'bridge', ensure: () => ensureDefaultBridge(settings), ifname: 'eth0', aliases: [], ports: true }));
    }
    for (const n of user) {
      endpoints.push(await leaseEndpoint(rec, {
        network: n.Name, networkId: n.Id, ensure: () => ensureUserBridge(n), ifname: `eth${endpoints.length}`,
        aliases: endpointOf(rec, n.Name)?.Aliases ?? [], ports: endpoints.length === 0,
      }));
    }
  } catch (e) {
    releaseNetwork(rec.Id);
    throw e;
  }
  const primary = endpoints[0];
  return {
    newNetns: true, joinNetnsFd: -1, env: links.env,
    hostsLines: [...links.hosts, `${primary.ip}\t${rec.Config.Hostname}`],
    endpoint: primary, endpoints,
  };
}

interface EndpointRequest {
  network: string;
  networkId?: string;
  /** Under the bridge's lock: its state, making the bridge if needed. */
  ensure: () => BridgeState;
  ifname: string;
  aliases: string[];
  /** Whether the published ports go to this endpoint (the NetworkMode network's). */
  ports: boolean;
}

const bridgeOf = (req: EndpointRequest) => (req.network === 'bridge' ? netSettings().bridge : findUserNetwork(req.network).Bridge);

/**
 * Leases an address (and binds the published ports) on one bridge, under its
 * lock held across bindPorts: for start, which runs in the container's monitor.
 */
async function leaseEndpoint(rec: ContainerRecord, req: EndpointRequest): Promise<BridgeEndpoint> {
  return withFileLockAsync(bridgeLock(bridgeOf(req)), async () => {
    const picked = pickLease(rec, req);
    const ports = req.ports ? await bindPorts(rec.Id, bindRequests(rec), (port) => ({ host: picked.ip, port }), netSettings().portRange, takenPorts(rec.Id)) : [];
    return recordLease(rec, req, picked, ports);
  });
}

/** leaseEndpoint without ports and without an await under the lock: for connect, which the API service runs (see withFileLock). */
function leaseEndpointSync(rec: ContainerRecord, req: EndpointRequest): BridgeEndpoint {
  return withFileLock(bridgeLock(bridgeOf(req)), () => recordLease(rec, req, pickLease(rec, req), []));
}

interface PickedLease { s: BridgeState; ip: string; rulesChanged: boolean }

/** Under the bridge's lock: the state (stale leases dropped) and the address this endpoint gets. */
function pickLease(rec: ContainerRecord, req: EndpointRequest): PickedLease {
  const s = req.ensure();
  let rulesChanged = false;
  for (const stale of staleLeases(s)) {
    deleteLink(stale.veth);
    delete s.leases[stale.id];
    rulesChanged = true;
  }
  if (s.leases[rec.Id]) {
    // A previous start of this container that nobody released.
    deleteLink(s.leases[rec.Id].veth);
    delete s.leases[rec.Id];
    rulesChanged = true;
  }
  return { s, ip: formatIPv4(pickAddress(s, rec, requestedIp(rec, req.network))), rulesChanged };
}

/** Under the bridge's lock: writes the lease. */
function recordLease(rec: ContainerRecord, req: EndpointRequest, { s, ip, rulesChanged }: PickedLease, ports: Binding[]): BridgeEndpoint {
  const settings = netSettings();
  const isDefault = req.network === 'bridge';
  // The default bridge keeps its historical veth name; other bridges need one per (container, network).
  const veth = isDefault ? vethName(rec.Id) : `veth${createHash('sha256').update(`${rec.Id}:${s.bridge}`).digest('hex').slice(0, 11)}`;
  const lease: Lease = {
    id: rec.Id, name: rec.Name, root: skiffRoot(), ip, mac: macFor(parseIPv4(ip)!), veth, ports,
    ...(isDefault ? {} : { ifname: req.ifname, aliases: req.aliases }),
  };
  const first = Object.keys(s.leases).length === 0;
  s.leases[rec.Id] = lease;
  s.userlandProxy = settings.userlandProxy;
  writeState(s);
  if (first) {
    forwardingAcquire(s.bridge);
    forwardAcceptAcquire(s.bridge);
  }
  // The nftables table is brought up to date by attachNetwork, while the child makes its procfs.
  if (rulesChanged) applyRules(s, settings.userlandProxy);
  return {
    network: req.network, networkId: req.networkId ?? networkId(s.bridge), bridge: s.bridge, ifname: req.ifname, aliases: req.aliases,
    ip, mac: lease.mac, gateway: s.gateway, prefixLen: parseCidr(s.subnet).prefix, veth, ports,
  };
}

/** The veth pair of one endpoint: the container end made inside its netns, already named and with its MAC (netlink.ts). */
function plugEndpoint(e: BridgeEndpoint, pid: number, defaultRoute: boolean): void {
  const ip = parseIPv4(e.ip)!;
  let netnsFd: number;
  try {
    netnsFd = openSync(`/proc/${pid}/ns/net`, 'r');
  } catch (err) {
    // the child is gone already (its own failure is the one start reports)
    throw new SkiffError(`connecting the container to bridge ${e.bridge}: ${(err as Error).message}`);
  }
  try {
    plugVeth({
      hostIf: e.veth, bridge: e.bridge, peerIf: e.ifname, mac: e.mac, netnsFd, ip, prefixLen: e.prefixLen,
      broadcast: (ip | ~maskOf(e.prefixLen)) >>> 0, gateway: defaultRoute ? parseIPv4(e.gateway)! : 0,
    });
  } catch (err) {
    throw new SkiffError((err as Error).message);
  } finally {
    closeSync(netnsFd);
  }
}

/** The rules of the endpoint's bridge, rendered from its leases (this one's included). */
function endpointRules(e: BridgeEndpoint): Promise<void> {
  return withFileLockAsync(bridgeLock(e.bridge), async () => {
    const s = readState(e.bridge);
    if (s) applyRules(s, s.userlandProxy !== false);
  });
}

/** endpointRules without an await under the lock: for connect, which the API service runs. */
function endpointRulesSync(e: BridgeEndpoint): void {
  withFileLock(bridgeLock(e.bridge), () => {
    const s = readState(e.bridge);
    if (s) applyRules(s, s.userlandProxy !== false);
  });
}

/**
 * Each endpoint's rules, one bridge lock at a time. Taken together they could
 * deadlock: this start holding bridge a and waiting for b while another start
 * (on b, connected to a) holds b and waits for a.
 */
export async function rulesOneAtATime<E>(endpoints: E[], rules: (e: E) => Promise<void>): Promise<void> {
  let first: unknown;
  for (const e of endpoints) {
    try {
      await rules(e);
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/** Docker's NetworkSettings.Networks entry of an attached endpoint. */
function attachedSettings(rec: ContainerRecord, e: BridgeEndpoint, pid: number): Record<string, unknown> {
  const want = requestedIp(rec, e.network);
  const endpointId = createHash('sha256').update(`${rec.Id}:${e.ip}:${pid}`).digest('hex');
  // Docker adds the short id to a user network's aliases at start; compose checks for it.
  const aliases = e.network === 'bridge' ? undefined : [...new Set([...e.aliases, rec.Id.slice(0, 12)])];
  return endpointSettings({
    ip: e.ip, gateway: e.gateway, mac: e.mac, prefixLen: e.prefixLen, networkId: e.networkId, endpointId,
    ipam: want ? { IPv4Address: want } : null, aliases,
  });
}

/** NetworkSettings.Ports in Docker's map form: every exposed port, null unless published. */
function portsMap(rec: ContainerRecord, ports: Binding[]): Record<string, PortBinding[] | null> {
  const out: Record<string, PortBinding[] | null> = {};
  for (const k of Object.keys(rec.Config.ExposedPorts ?? {})) out[k] = null;
  for (const p of ports) {
    const key = `${p.containerPort}/${p.proto}`;
    (out[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}

function endpointSettings(fields: { ip?: string; gateway?: string; mac?: string; prefixLen?: number; networkId?: string; endpointId?: string; ipam?: unknown; aliases?: string[] }) {
  return {
    IPAMConfig: fields.ipam ?? null, Links: null, Aliases: fields.aliases ?? null, MacAddress: fields.mac ?? '', DriverOpts: null,
    NetworkID: fields.networkId ?? '', EndpointID: fields.endpointId ?? '', Gateway: fields.gateway ?? '', IPAddress: fields.ip ?? '',
    IPPrefixLen: fields.prefixLen ?? 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}

export async function attachNetwork(rec: ContainerRecord, pid: number, net: PreparedNetwork): Promise<NetworkSettings | undefined> {
  if (net.joinNetnsFd >= 0) {
    closeSync(net.joinNetnsFd); // the child has its own copy
    return undefined;
  }
  const mode = rec.HostConfig.NetworkMode;
  const e = net.endpoint;
  if (!e) {
    return {
      IPAddress: '', Gateway: '', MacAddress: '', IPPrefixLen: 0, Ports: {},
      Networks: { [mode]: endpointSettings({ networkId: networkId(mode) }) },
    };
  }
  const plugs = (async () => {
    for (const [i, ep] of net.endpoints.entries()) plugEndpoint(ep, pid, i === 0);
  })();
  // Meanwhile: each bridge's nftables table, rendered from the leases (ours included).
  const results = await Promise.allSettled([plugs, rulesOneAtATime(net.endpoints, endpointRules)]);
  for (const r of results) {
    if (r.status !== 'rejected') continue;
    // the child failed and exited meanwhile (e.g. command not found): its own error, read by start, is the one to report.
    if (r.reason instanceof SkiffError && ['Z', 'X', ''].includes(procState(pid))) return undefined;
    throw r.reason;
  }
  // Peers learn this container's names, and it theirs, before its command runs.
  refreshHosts(net.endpoints.map((x) => x.bridge));
  const networks = Object.fromEntries(net.endpoints.map((x) => [x.network, attachedSettings(rec, x, pid)]));
  // Docker shows the top-level address fields for the default bridge only.
  const top = e.network === 'bridge' ? networks.bridge as { EndpointID: string } : undefined;
  return {
    Bridge: '', SandboxID: '', SandboxKey: `/proc/${pid}/ns/net`, HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
    Ports: portsMap(rec, e.ports), EndpointID: top?.EndpointID ?? '', Gateway: top ? e.gateway : '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    IPAddress: top ? e.ip : '', IPPrefixLen: top ? e.prefixLen : 0, IPv6Gateway: '', MacAddress: top ? e.mac : '',
    Networks: networks,
  } as NetworkSettings;
}

export function startProxies(rec: ContainerRecord): { close(): void } {
  // The sockets were bound (and already relay) since prepareNetwork, in this process.
  return { close: () => closePorts(rec.Id) };
}

// ---- exit / rm -------------------------------------------------------------------

/** Synchronous on purpose: it runs from finalize(), also inside `ps`'s orphan check. `only`: one bridge (disconnect). */
export function releaseNetwork(id: string, only?: string): void {
  if (!only) closePorts(id);
  let rec: ContainerRecord | undefined;
  try {
    rec = store.read(id);
  } catch {
    // removed meanwhile
  }
  const pid1Dead = !rec || !isSameProcess(rec.State.Pid, rec.Skiff.PidStartTime);
  const released: string[] = [];
  for (const bridge of only ? [only] : knownBridges()) {
    if (!readState(bridge)?.leases[id]) continue;
    const veth = withFileLock(bridgeLock(bridge), () => {
      const s = readState(bridge);
      const lease = s?.leases[id];
      if (!s || !lease) return undefined;
      delete s.leases[id];
      writeState(s);
      if (Object.keys(s.leases).length === 0) {
        // The last container: no rules, no forwarding (the bridge stays until `network prune`/`network rm`).
        // Each step runs even if another fails (e.g. nft went missing).
        allSteps([() => deleteTable(bridge), () => forwardAcceptRelease(bridge), () => forwardingRelease(bridge)]);
      } else if (lease.ports.length) {
        applyRules(s, s.userlandProxy !== false);
      }
      return lease.veth;
    });
    // Its name is this container's alone, so this needs no lock.
    if (veth) {
      deleteLink(veth, pid1Dead ? 30 : 0);
      released.push(bridge);
    }
  }
  // The remaining members forget this one.
  try {
    refreshHosts(released);
  } catch {
    // best effort: a peer removed meanwhile
  }
  // Docker clears the addresses once the endpoints are gone; --ip (IPAMConfig) and aliases stay.
  try {
    if (rec && !only && (rec.NetworkSettings?.IPAddress || Object.keys(rec.NetworkSettings?.Ports ?? {}).length || released.length)) {
      store.update(id, (r) => {
        const cleared: Record<string, unknown> = {};
        for (const [name, v] of Object.entries(r.NetworkSettings.Networks ?? {})) {
          const ep = v as Record<string, unknown>;
          // Networks that only a running container shows (none, host) go; endpoint configs stay.
          if (name !== 'bridge' && isBuiltin(name)) continue;
          cleared[name] = { ...ep, IPAddress: '', Gateway: '', MacAddress: '', IPPrefixLen: 0, EndpointID: '' };
        }
        r.NetworkSettings = {
          ...r.NetworkSettings, IPAddress: '', Gateway: '', MacAddress: '', IPPrefixLen: 0, Ports: {}, SandboxKey: '', EndpointID: '',
          Networks: cleared,
        } as NetworkSettings;
      });
    }
  } catch {
    // removed meanwhile
  }
}

// ---- network connect / disconnect ---------------------------------------------------

function liveContainer(ref: string): ContainerRecord {
  try {
    return store.find(ref);
  } catch {
    throw new NetworkError(`No such container: ${ref}`, 404);
  }
}

/**
 * `network connect`: records the endpoint; on a running container also plugs
 * it in now (the next free ethN) and tells the network's members.
 */
export async function connectNetwork(netRef: string, ctrRef: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<void> {
  if (netRef === 'host') throw new NetworkError('container cannot be disconnected from host network or connected to host network', 400);
  // The default bridge and none are chosen at create (--network); connect adds user-defined networks.
  if (isBuiltin(netRef)) throw new NetworkError(`skiff connects containers to user-defined networks only; use --network ${netRef} at create`, 400);
  const n = findUserNetwork(netRef);
  let rec = liveContainer(ctrRef);
  const mode = rec.HostConfig.NetworkMode;
  if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
    throw new NetworkError(`container sharing network namespace with another container or host cannot be connected to any other network`, 400);
  }
  const running = isRunning(rec);
  if (endpointOf(rec, n.Name) || readState(n.Bridge)?.leases[rec.Id]) {
    throw new NetworkError(`endpoint with name ${rec.Name.slice(1)} already exists in network ${n.Name}`, 403);
  }
  for (const a of opts.aliases ?? []) if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a)) throw new NetworkError(`invalid network alias: ${a}`, 400);
  if (opts.ip && parseIPv4(opts.ip) === undefined) throw new NetworkError(`invalid IPv4 address: ${opts.ip}`, 400);
  rec = store.update(rec.Id, (r) => {
    r.NetworkSettings.Networks = { ...(r.NetworkSettings.Networks ?? {}), [n.Name]: endpointConfig(n.Id, opts.aliases ?? [], opts.ip) };
  });
  if (!running) return;
  const used = knownBridges().map((b) => readState(b)?.leases[rec.Id]).filter((l): l is Lease => !!l).map((l) => l.ifname ?? 'eth0');
  let k = 0;
  while (used.includes(`eth${k}`)) k++;
  const pid = rec.State.Pid;
  let e: BridgeEndpoint;
  try {
    // The API service runs this: no bridge lock may be held across an await here (see withFileLock).
    e = leaseEndpointSync(rec, { network: n.Name, networkId: n.Id, ensure: () => ensureUserBridge(n), ifname: `eth${k}`, aliases: opts.aliases ?? [], ports: false });
    plugEndpoint(e, pid, false);
    endpointRulesSync(e);
  } catch (err) {
    releaseNetwork(rec.Id, n.Bridge);
    store.update(rec.Id, (r) => {
      delete r.NetworkSettings.Networks[n.Name];
    });
    throw err;
  }
  refreshHosts([e.bridge]);
  store.update(rec.Id, (r) => {
    r.NetworkSettings.Networks = { ...r.NetworkSettings.Networks, [n.Name]: attachedSettings(r, e, pid) };
  });
}

/** `network disconnect`: the endpoint goes (veth, lease, the members' hosts lines) and so does the record's entry. */
export function disconnectNetwork(netRef: string, ctrRef: string, force = false): void {
  const n = lookupNetwork(netRef);
  if (!n) {
    if (isBuiltin(netRef)) throw new NetworkError(`container cannot be disconnected from host network or connected to host network`, 400);
    throw new NetworkError(`network ${netRef} not found`, 404);
  }
  let rec: ContainerRecord;
  try {
    rec = store.find(ctrRef);
  } catch {
    // --force: the endpoint of a container that no longer exists
    if (force) return;
    throw new NetworkError(`No such container: ${ctrRef}`, 404);
  }
  if (!endpointOf(rec, n.Name) && !readState(n.Bridge)?.leases[rec.Id]) {
    throw new NetworkError(`container ${rec.Id} is not connected to network ${n.Name}`, 403);
  }
  releaseNetwork(rec.Id, n.Bridge);
  store.update(rec.Id, (r) => {
    delete r.NetworkSettings.Networks[n.Name];
  });
}

// ---- views ---------------------------------------------------------------------------

/** The PORTS column of `ps`, Docker's format ("0.0.0.0:49153->80/tcp"): running containers only. */
export function portsSummary(rec: ContainerRecord): string {
  if (!rec.State.Running) return '';
  return displayablePorts(apiPorts(rec.NetworkSettings?.Ports));
}

/** Published ports of a running container: [private "5000/tcp", HostIp, HostPort]. */
export function publishedPorts(rec: ContainerRecord): Array<[string, PortBinding]> {
  if (!rec.State.Running) return [];
  const out: Array<[string, PortBinding]> = [];
  for (const [key, v] of Object.entries(rec.NetworkSettings?.Ports ?? {})) {
    if (Array.isArray(v)) for (const b of v as PortBinding[]) out.push([key, b]);
  }
  return out;
}
