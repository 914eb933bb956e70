// Network settings: runtime/config.ts's fields, overridden by environment
// variables (so that each test can use its own bridge and subnet).
import { config } from '../config.js';
import { SkiffError } from '../util/errors.js';
import { parseHostRange } from './ports.js';

export interface NetSettings {
  /** Linux bridge interface of the `bridge` network. */
  bridge: string;
  /** The subnet asked for, if any (else skiff picks one that no host route overlaps). */
  subnet?: string;
  /** Host ports for random publishing. */
  portRange: [number, number];
  /**
   * Loopback clients go through DNAT (false, skiff's default) or through a
   * userland proxy (true, Docker's default). Measured here (bench/network.sh):
   * the proxy reached 0.2-0.4x of direct throughput, DNAT 0.8-1.1x.
   */
  userlandProxy: boolean;
}

export const DEFAULT_BRIDGE = 'skiff0';
export const DEFAULT_PORT_RANGE = '49000-49900';
/** Tried in order when no subnet is configured; the first that no host route overlaps wins. */
export const DEFAULT_SUBNETS = ['172.30.0.0/16', '172.31.0.0/16', '172.29.0.0/16', '172.28.0.0/16', '172.27.0.0/16', '10.88.0.0/16', '10.89.0.0/16'];

const IFNAME_RE = /^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/;

export function netSettings(env: NodeJS.ProcessEnv = process.env): NetSettings {
  const c = config();
  const bridge = env.SKIFF_BRIDGE || c.bridge || DEFAULT_BRIDGE;
  if (!IFNAME_RE.test(bridge)) {
    throw new SkiffError(`invalid bridge name "${bridge}": 1-15 characters, a letter first, then letters, digits, '_', '.' or '-'`);
  }
  const proxyEnv = env.SKIFF_USERLAND_PROXY;
  return {
    bridge,
    subnet: env.SKIFF_SUBNET || c.subnet || undefined,
    portRange: parseHostRange(env.SKIFF_PORT_RANGE || c['port-range'] || DEFAULT_PORT_RANGE),
    userlandProxy: proxyEnv !== undefined && proxyEnv !== '' ? !/^(0|false|no)$/i.test(proxyEnv) : c['userland-proxy'] === true,
  };
}
