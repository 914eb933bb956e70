// `skiff network ls|inspect|prune`: the three predefined networks (bridge,
// host, none), Docker's views of them, and removing the bridge when unused.
// User-defined networks are user.ts's.
import { createHash } from 'node:crypto';
import { skiffRoot } from '../util/paths.js';
import { SkiffError } from '../util/errors.js';
import {
  bridgeLock, deleteLink, deleteTable, knownBridges, linkExists, readState, removeBridge, staleLeases, tableExists, withFileLock, writeState,
} from './host.js';
import { parseCidr } from './ipv4.js';
import { netSettings } from './settings.js';
import { inspectUserNetwork, lookupNetwork, pruneNetworks } from './user.js';

export const NETWORKS = [
  { name: 'bridge', driver: 'bridge' },
  { name: 'host', driver: 'host' },
  { name: 'none', driver: 'null' },
] as const;

/**
 * The ids of host and none, as the hash below gives them: every start on one
 * of them records it, and hashing would load node:crypto (~5 ms of `run
 * --network none`). A unit test (user-networks.test.ts) checks them.
 */
export const FIXED_NETWORK_IDS: Readonly<Record<string, string>> = {
  host: '76683698ddd8a3f3152bac3a9a1cded26f2086fd439e56acb3ced70927e141f3',
  none: '77649f953aa3b6547093470a3193bc5591769aa4098342cdf66919feb8016f92',
};

/** A predefined network's id: sha256 of "skiff-network:" and its name (for the bridge, its device's). */
export function networkId(name: string): string {
  if (Object.hasOwn(FIXED_NETWORK_IDS, name)) return FIXED_NETWORK_IDS[name];
  const key = name === 'bridge' ? netSettings().bridge : name;
  return createHash('sha256').update(`skiff-network:${key}`).digest('hex');
}

export function findNetwork(ref: string): (typeof NETWORKS)[number] {
  const n = NETWORKS.find((x) => x.name === ref) ?? (/^[0-9a-f]{1,64}$/.test(ref) ? NETWORKS.find((x) => networkId(x.name).startsWith(ref)) : undefined);
  if (!n) throw new SkiffError(`network ${ref} not found`, 1);
  return n;
}

/** Docker's `network inspect` object, of a predefined or a user-defined network (by name, then id). */
export function inspectNetwork(ref: string): Record<string, unknown> {
  const user = NETWORKS.some((x) => x.name === ref) ? undefined : lookupNetwork(ref);
  if (user) return inspectUserNetwork(user);
  const n = findNetwork(ref);
  const base = {
    Name: n.name, Id: networkId(n.name), Created: '0001-01-01T00:00:00Z', Scope: 'local', Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] as Array<Record<string, string>> }, Internal: false, Attachable: false,
    Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {} as Record<string, unknown>,
    Options: {} as Record<string, string>, Labels: {},
  };
  if (n.name !== 'bridge') return base;
  const s = netSettings();
  const state = readState(s.bridge);
  base.Options = { 'com.docker.network.bridge.name': s.bridge, 'com.docker.network.bridge.enable_ip_masquerade': 'true' };
  if (state) {
    base.IPAM.Config = [{ Subnet: state.subnet, Gateway: state.gateway }];
    const prefix = parseCidr(state.subnet).prefix;
    for (const l of Object.values(state.leases)) {
      if (l.root !== skiffRoot()) continue; // another root's container
      base.Containers[l.id] = { Name: l.name.slice(1), EndpointID: '', MacAddress: l.mac, IPv4Address: `${l.ip}/${prefix}`, IPv6Address: '' };
    }
  } else if (s.subnet) {
    base.IPAM.Config = [{ Subnet: s.subnet }];
  }
  return base;
}

export interface PruneResult {
  removed: boolean;
  bridge: string;
  /** Containers still holding addresses, when not removed. */
  inUse: string[];
}

/** Removes the bridge, its nftables table and state, unless a container still holds an address on it. */
export function pruneBridge(): PruneResult {
  const bridge = netSettings().bridge;
  if (!knownBridges().includes(bridge) && !linkExists(bridge)) {
    // A table left by a removal that ran without nft.
    if (tableExists(bridge)) deleteTable(bridge);
    return { removed: false, bridge, inUse: [] };
  }
  return withFileLock(bridgeLock(bridge), () => {
    const s = readState(bridge);
    if (s) {
      for (const stale of staleLeases(s)) {
        deleteLink(stale.veth);
        delete s.leases[stale.id];
      }
      const inUse = Object.values(s.leases).map((l) => l.name.slice(1));
      if (inUse.length) {
        writeState(s);
        return { removed: false, bridge, inUse };
      }
    } else if (linkExists(bridge) && !tableExists(bridge)) {
      // An interface skiff has no record of: not ours to delete.
      return { removed: false, bridge, inUse: [] };
    }
    removeBridge(bridge);
    return { removed: true, bridge, inUse: [] };
  });
}

/**
 * `network prune` (the CLI's and the API's): every unused user network whose
 * id is in `wanted` (what the filters selected), then the default bridge when
 * unused, but only for a prune no filter narrowed.
 */
export function pruneUnused(wanted: Set<string>, filtered: boolean): { removed: string[]; bridge?: PruneResult } {
  const removed = pruneNetworks((n) => wanted.has(n.Id));
  return { removed, bridge: filtered ? undefined : pruneBridge() };
}
