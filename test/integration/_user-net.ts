// Helpers for user-defined networks in tests: each test gets its own address
// pool (a /24 no host route or skiff bridge overlaps, cut into /26s) and its
// own bridge-name prefix ("skt" + 4 hex digits), so every bridge, nft table
// and state directory its networks make can be found, checked and removed.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { harness, sysTool, testNet, type Harness } from './_harness.js';

export interface NetHarness extends Harness {
  /** The test's pool ("10.x.y.0/24") and bridge prefix. */
  pool: string;
  prefix: string;
}

/** The test's own networks left in the kernel and in skiff's host state: [] when nothing. */
export function userNetLeftovers(prefix: string): string[] {
  const left: string[] = [];
  for (const l of readdirSync('/sys/class/net')) if (l.startsWith(prefix)) left.push(`link ${l}`);
  try {
    for (const d of readdirSync('/run/skiff/net')) if (d.startsWith(prefix)) left.push(`state /run/skiff/net/${d}`);
  } catch {
    // no state at all
  }
  const tables = execFileSync(sysTool('nft'), ['list', 'tables'], { encoding: 'utf8' });
  for (const m of tables.matchAll(/table ip (skiff-\S+)/g)) if (m[1].startsWith(`skiff-${prefix}`)) left.push(`nft table ${m[1]}`);
  return left;
}

/** A harness whose skiff commands use the test's pool and bridge prefix; its teardown removes every network. */
export async function netHarness(t: ExecutionContext, images?: string[]): Promise<NetHarness> {
  const h = (await harness(t, images)) as NetHarness;
  let pool = testNet().subnet;
  while (pool === h.net.subnet) pool = testNet().subnet;
  h.pool = pool;
  h.prefix = `skt${randomBytes(2).toString('hex')}`;
  const base = h.env.bind(h);
  h.env = (extra = {}) => base({ SKIFF_NETWORK_POOL: `${pool}:26`, SKIFF_NETWORK_BRIDGE_PREFIX: h.prefix, ...extra });
  // Registered after the harness's teardown, so it runs first: containers go, then their networks.
  t.teardown(async () => {
    const ids = h.containerIds();
    if (ids.length) await h.run(['rm', '-f', ...ids]);
    const nets = existsSync(join(h.root, 'networks')) ? (await h.run(['network', 'ls', '-q', '--no-trunc', '-f', 'type=custom'])).stdout.split('\n').filter(Boolean) : [];
    if (nets.length) await h.run(['network', 'rm', ...nets]);
    for (const l of userNetLeftovers(h.prefix)) {
      const name = l.split(' ').pop()!;
      const quiet = { stdio: 'ignore' as const };
      try {
        if (l.startsWith('link')) execFileSync(sysTool('ip'), ['link', 'del', name], quiet);
        else if (l.startsWith('nft')) execFileSync(sysTool('nft'), ['delete', 'table', 'ip', name], quiet);
        else rmSync(name, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
    }
  });
  return h;
}

/** The nft counter of the isolation rules of the test's tables (dropped packets between networks). */
export function isolationDrops(prefix: string): number {
  let total = 0;
  const tables = execFileSync(sysTool('nft'), ['list', 'tables'], { encoding: 'utf8' });
  for (const m of tables.matchAll(/table ip (skiff-\S+)/g)) {
    if (!m[1].startsWith(`skiff-${prefix}`)) continue;
    const chain = execFileSync(sysTool('nft'), ['list', 'chain', 'ip', m[1], 'isolate'], { encoding: 'utf8' });
    for (const c of chain.matchAll(/counter packets (\d+)/g)) total += Number(c[1]);
  }
  return total;
}
