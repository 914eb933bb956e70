// Container networking: the seams the container lifecycle calls.
//
// create  -> networkConfig()   validate flags, record NetworkMode, ports, links
// start   -> prepareNetwork()  before clone: lease an IP, decide namespace flags,
//                              /etc/hosts lines and link env vars
//         -> attachNetwork()   after clone, before the command runs: veth, addresses,
//                              routes, NAT rules inside/around the new netns
// monitor -> startProxies()    userland proxies for published ports, living as long
//                              as the container's monitor
// exit/rm -> releaseNetwork()  idempotent: veth, lease, rules
//
// This file implements --network none and host; the bridge lives in the
// networking issue.
import { SkiffError } from '../util/errors.js';
import type { ContainerRecord } from '../container/model.js';

export interface NetworkOptions {
  network?: string;
  ip?: string;
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  links?: string[];
}

/** What create records about networking (HostConfig fields, Docker's names). */
export interface NetworkConfig {
  NetworkMode: string;
  PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  PublishAllPorts: boolean;
  Links: string[];
  ExposedPorts: Record<string, object>;
  IPAddress?: string;
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
}

export function networkConfig(opts: NetworkOptions, imageExposed: Record<string, object> = {}): NetworkConfig {
  const mode = opts.network ?? 'none';
  if (mode !== 'none' && mode !== 'host') {
    throw new SkiffError(`network mode "${mode}" is not supported yet; use --network none or host`);
  }
  if (opts.publish?.length || opts.publishAll || opts.links?.length || opts.ip) {
    throw new SkiffError('-p, -P, --link and --ip need the bridge network, which is not supported yet');
  }
  const exposed = { ...imageExposed };
  for (const e of opts.expose ?? []) exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  return { NetworkMode: mode, PortBindings: {}, PublishAllPorts: false, Links: [], ExposedPorts: exposed };
}

export async function prepareNetwork(rec: ContainerRecord): Promise<PreparedNetwork> {
  return { newNetns: rec.HostConfig.NetworkMode !== 'host', joinNetnsFd: -1, hostsLines: [], env: [] };
}

export async function attachNetwork(_rec: ContainerRecord, _pid: number, _net: PreparedNetwork): Promise<ContainerRecord['NetworkSettings'] | undefined> {
  return undefined;
}

export function startProxies(_rec: ContainerRecord): { close(): void } {
  return { close() {} };
}

/** Synchronous on purpose: it runs from finalize(), also inside `ps`'s orphan check. */
export function releaseNetwork(_id: string): void {}

/** The PORTS column of `ps`, Docker's format ("0.0.0.0:49153->80/tcp"). */
export function portsSummary(_rec: ContainerRecord): string {
  return '';
}
