// skiff's own settings: $SKIFF_ROOT/config.json, else /etc/skiff/config.json.
//   { "userns-remap": "100000:65536" | true | false,
//     "registry": "registry.example.com:5000",          (where short names like "busybox" are pulled from)
//     "insecure-registries": ["registry.lan:5000"] }    (allowed over plain HTTP)
import { join } from 'node:path';
import { readJsonOr } from './util/json.js';
import { skiffRoot } from './util/paths.js';

export interface SkiffConfig {
  /** true or "HOSTID:SIZE" turns on user namespaces for every container. */
  'userns-remap'?: boolean | string;
  /** The default registry for short names (built-in: docker.io). SKIFF_REGISTRY overrides it. */
  registry?: string;
  /** Registries that may be reached over plain HTTP (loopback registries always may). */
  'insecure-registries'?: string[];
  /** Linux bridge of the default `bridge` network (default skiff0). SKIFF_BRIDGE overrides it. */
  bridge?: string;
  /** IPv4 subnet of that bridge, e.g. "172.30.0.0/16" (default: the first of 172.30/16, 172.31/16, ... that no host route overlaps). SKIFF_SUBNET overrides it. */
  subnet?: string;
  /** Host ports for -P and IP::CPORT, "LOW-HIGH" (default 49000-49900; Docker uses the kernel's ephemeral range). SKIFF_PORT_RANGE overrides it. */
  'port-range'?: string;
  /** true: loopback clients of published ports go through a userland proxy (Docker's default) instead of DNAT (skiff's default). */
  'userland-proxy'?: boolean;
  /** Subnets of user-defined networks, "CIDR[:SIZE]" (default 10.100.0.0/16:24). SKIFF_NETWORK_POOL overrides it. */
  'network-pool'?: string;
  /** Bridge names of user-defined networks: this prefix + the network id (default "skbr"). SKIFF_NETWORK_BRIDGE_PREFIX overrides it. */
  'network-bridge-prefix'?: string;
}

let cached: SkiffConfig | undefined;
export function config(): SkiffConfig {
  return (cached ??= readJsonOr<SkiffConfig>(join(skiffRoot(), 'config.json'), readJsonOr<SkiffConfig>('/etc/skiff/config.json', {})));
}
