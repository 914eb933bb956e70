// koffi declaration of skiff-netlink.c (libskiff-net.so): a container's veth
// pair over rtnetlink, without spawning ip.
import { join } from 'node:path';
import { koffiLib } from './libc.js';
import { packageRoot } from './helper.js';

type Fn = (...args: unknown[]) => number;
let plug: Fn | undefined;

function load(): Fn {
  const file = join(packageRoot(), 'native-bindings', 'build', 'libskiff-net.so');
  try {
    return (plug ??= koffiLib().load(file).func(
      'int skiff_plug_veth(const char *, const char *, const char *, const uint8_t *, int, uint32_t, int, uint32_t, uint32_t, _Out_ uint8_t *, int)',
    ) as Fn);
  } catch (e) {
    throw new Error(`cannot load ${file}: ${(e as Error).message}; run 'npm run build' to compile the C helper`);
  }
}

/** An IPv4 address as the uint32 whose memory holds it in network byte order (what netlink wants). */
function wire(ip: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ip >>> 0);
  return b.readUInt32LE();
}

export interface VethPlug {
  hostIf: string;
  bridge: string;
  peerIf: string;
  mac: string;
  /** An open /proc/PID/ns/net of the container. */
  netnsFd: number;
  ip: number;
  prefixLen: number;
  broadcast: number;
  /** 0: no default route through this interface. */
  gateway: number;
}

/**
 * `ip link add HOST master BRIDGE up type veth peer name PEER address MAC
 * netns FD`, then in the container: lo up, the address, PEER up and the
 * default route. All or nothing: on failure the pair is deleted again.
 */
export function plugVeth(p: VethPlug): void {
  const mac = Buffer.from(p.mac.split(':').map((x) => parseInt(x, 16)));
  const err = Buffer.alloc(256);
  const rc = load()(p.hostIf, p.bridge, p.peerIf, mac, p.netnsFd, wire(p.ip), p.prefixLen, wire(p.broadcast), p.gateway ? wire(p.gateway) : 0, err, err.length);
  if (rc < 0) throw new Error(`connecting the container to bridge ${p.bridge}: ${err.toString('utf8', 0, Math.max(0, err.indexOf(0)))}`);
}
