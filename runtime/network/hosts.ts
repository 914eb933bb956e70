// Name resolution on user-defined networks: each member's /etc/hosts lists the
// other members of every user network it is on, by container name, network
// aliases (compose's service names) and short id, and is rewritten whenever
// a member joins or leaves (start, connect, stop, rm, disconnect).
//
// Why /etc/hosts and not Docker's embedded DNS server (127.0.0.11): skiff has
// no daemon to answer queries, a resolver per container would be one; static
// busybox resolves from /etc/hosts, while static glibc's NSS path to DNS
// crashes in these containers (PLATFORM.md); and the file is derived entirely
// from the leases in each bridge's state.json, so it cannot drift. The cost:
// names appear only for running members (as with Docker's DNS), and a program
// that caches /etc/hosts sees a later member only after re-reading it.
//
// The file is bind-mounted into the container, so it is rewritten in place
// (same inode; a rename would leave the container with the old file). Lines
// above the marker (localhost, own address, links, whatever the container
// wrote) are kept; the block below it is skiff's.
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { knownBridges, netDir, readState, withFileLock, type BridgeState, type Lease } from './host.js';

export const PEERS_MARKER = '# skiff: members of the same networks (rewritten as containers join and leave)';

/** The names a member is known by on a user network: container name, its aliases, its short id. */
export function memberNames(l: Lease): string[] {
  return [...new Set([l.name.slice(1), ...(l.aliases ?? []), l.id.slice(0, 12)])];
}

/** The peer lines for container `id`, from the user-network bridges it has a lease on. */
export function peerLines(id: string, states: BridgeState[]): string[] {
  const lines: string[] = [];
  for (const s of states) {
    if (!s.network || !s.leases[id]) continue;
    for (const l of Object.values(s.leases).sort((a, b) => a.ip.localeCompare(b.ip, undefined, { numeric: true }))) {
      if (l.id !== id) lines.push(`${l.ip}\t${memberNames(l).join(' ')}`);
    }
  }
  return lines;
}

/** The hosts file text with its peer block replaced. */
export function withPeers(text: string, peers: string[]): string {
  const i = text.indexOf(`${PEERS_MARKER}\n`);
  const head = i < 0 ? text : text.slice(0, i);
  if (!peers.length) return head;
  return `${head}${head === '' || head.endsWith('\n') ? '' : '\n'}${PEERS_MARKER}\n${peers.join('\n')}\n`;
}

/**
 * Rewrites /etc/hosts of every member of the user networks on `bridges`
 * (leases only: a member that is not running has no hosts file in use).
 */
export function refreshHosts(bridges: string[]): void {
  const user = new Set(bridges.filter((b) => readState(b)?.network));
  if (!user.size) return;
  // One lock for all rewrites: two refreshes racing could otherwise write an older view last.
  withFileLock(join(netDir(), 'hosts.lock'), () => {
    const states = knownBridges().map((b) => readState(b)).filter((s): s is BridgeState => !!s?.network);
    const members = new Map<string, Lease>();
    for (const s of states) if (user.has(s.bridge)) for (const l of Object.values(s.leases)) members.set(l.id, l);
    for (const l of members.values()) {
      const file = join(l.root, 'containers', l.id, 'hosts');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // removed meanwhile
      }
      const next = withPeers(text, peerLines(l.id, states));
      if (next !== text) rewriteInPlace(file, next);
    }
  });
}

/**
 * The same inode (the container's bind mount shows it), never empty on the
 * way: writeFileSync truncates to zero first, and a lookup in the container
 * at that moment would find no localhost. New text over the old from offset
 * 0, then cut to its length.
 */
export function rewriteInPlace(file: string, text: string): void {
  const buf = Buffer.from(text);
  const fd = openSync(file, 'r+');
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
    ftruncateSync(fd, buf.length);
  } finally {
    closeSync(fd);
  }
}
