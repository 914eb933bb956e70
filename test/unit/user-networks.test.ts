import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderTable, withFileLock, withFileLockAsync, type BridgeState, type Lease } from '../../runtime/network/host.js';
import { peerLines, PEERS_MARKER, rewriteInPlace, withPeers } from '../../runtime/network/hosts.js';
import { rulesOneAtATime } from '../../runtime/network/index.js';
import { networkModeOf } from '../../runtime/api/containers.js';
import { networkPool } from '../../runtime/network/user.js';
import { FIXED_NETWORK_IDS, networkId } from '../../runtime/network/manage.js';
import { createHash } from 'node:crypto';

const lease = (id: string, name: string, ip: string, aliases: string[] = []): Lease => ({
  id: id.repeat(64 / id.length), name: `/${name}`, root: '/r', ip, mac: '', veth: '', ports: [], aliases,
});

test('peerLines: the other members of each user network, by name, aliases and short id; the default bridge gives none', (t) => {
  const web = lease('a', 'proj_web_1', '10.9.0.2', ['web']);
  const db = lease('b', 'proj_db_1', '10.9.0.10', ['db']);
  const other = lease('c', 'x', '10.9.1.2');
  const n1: BridgeState = { bridge: 'b1', subnet: '10.9.0.0/24', gateway: '10.9.0.1', network: 'proj_default', leases: { [web.id]: web, [db.id]: db } };
  const n2: BridgeState = { bridge: 'b2', subnet: '10.9.1.0/24', gateway: '10.9.1.1', network: 'other', leases: { [other.id]: other } };
  const plain: BridgeState = { bridge: 'skiff0', subnet: '10.9.2.0/24', gateway: '10.9.2.1', leases: { [web.id]: { ...web, ip: '10.9.2.2' }, [other.id]: other } };
  t.deepEqual(peerLines(web.id, [n1, n2, plain]), [`10.9.0.10\tproj_db_1 db ${'b'.repeat(12)}`]);
  t.deepEqual(peerLines(other.id, [n1, n2, plain]), []);
});

test('withPeers: replaces only the block below the marker, and drops it when there are no peers', (t) => {
  const head = '127.0.0.1\tlocalhost\n10.9.0.2\tabc\n';
  const one = withPeers(head, ['10.9.0.3\tdb']);
  t.is(one, `${head}${PEERS_MARKER}\n10.9.0.3\tdb\n`);
  t.is(withPeers(one, ['10.9.0.4\tcache']), `${head}${PEERS_MARKER}\n10.9.0.4\tcache\n`);
  t.is(withPeers(one, []), head);
  t.is(withPeers('no newline', ['1.2.3.4\tx']), `no newline\n${PEERS_MARKER}\n1.2.3.4\tx\n`);
});

test('renderTable: a user network is isolated from other bridges; --internal also has no masquerade', (t) => {
  const s: BridgeState = { bridge: 'skbr1', subnet: '10.9.0.0/24', gateway: '10.9.0.1', network: 'n', leases: {} };
  const open = renderTable(s, true);
  t.regex(open, /iifname "skbr1" oifname != "skbr1" meta oifkind "bridge" counter drop/);
  t.regex(open, /oifname "skbr1" iifname != "skbr1" meta iifkind "bridge" counter drop/);
  t.regex(open, /masquerade/);
  const internal = renderTable({ ...s, internal: true }, true);
  t.regex(internal, /iifname "skbr1" oifname != "skbr1" counter drop/);
  t.notRegex(internal, /ip saddr 10\.9\.0\.0\/24 .*masquerade/);
  t.notRegex(renderTable({ ...s, network: undefined }, true), /chain isolate/);
});

test('networkPool: CIDR[:SIZE], /24s by default, bad sizes refused', (t) => {
  t.deepEqual(networkPool({ SKIFF_NETWORK_POOL: '10.9.0.0/16' }), { pool: { base: (10 << 24) + (9 << 16), prefix: 16 }, size: 24 });
  t.is(networkPool({ SKIFF_NETWORK_POOL: '10.9.8.0/24:26' }).size, 26);
  t.is(networkPool({ SKIFF_NETWORK_POOL: '10.9.8.0/28' }).size, 28);
  t.throws(() => networkPool({ SKIFF_NETWORK_POOL: '10.9.8.0/24:20' }), { message: /invalid network pool/ });
  t.throws(() => networkPool({ SKIFF_NETWORK_POOL: '10.9.8.1/24' }), { message: /host bits are set/ });
});

const tick = () => new Promise((r) => setTimeout(r, 5));

test('rulesOneAtATime: one bridge lock at a time (two starts locking a then b and b then a cannot deadlock), every bridge done, first error kept', async (t) => {
  const held = new Set<string>();
  let most = 0;
  const done: string[] = [];
  const fakeRules = async (bridge: string) => {
    held.add(bridge);
    most = Math.max(most, held.size);
    await tick();
    held.delete(bridge);
    done.push(bridge);
    if (bridge === 'b') throw new Error('nft failed on b');
  };
  await t.throwsAsync(rulesOneAtATime(['a', 'b', 'c'], fakeRules), { message: 'nft failed on b' });
  t.is(most, 1);
  t.deepEqual(done, ['a', 'b', 'c']);
});

test('withFileLockAsync: two holders in one process queue instead of blocking the event loop in flock', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sklock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lock');
  const order: string[] = [];
  const holder = (name: string) => withFileLockAsync(file, async () => {
    order.push(`${name}+`);
    await tick();
    order.push(`${name}-`);
  });
  // Before: the second lockFd blocked in flock(2) on its own open file, and the first could never finish.
  await Promise.all([holder('x'), holder('y')]);
  t.deepEqual(order, ['x+', 'x-', 'y+', 'y-']);
});

test('withFileLock: a synchronous caller of a lock this process holds across an await fails at once instead of hanging', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sklock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lock');
  let release!: () => void;
  const holding = withFileLockAsync(file, () => new Promise<void>((r) => { release = r; }));
  await tick();
  t.throws(() => withFileLock(file, () => 1), { message: /already held by this process/ });
  release();
  await holding;
  t.is(withFileLock(file, () => 2), 2);
});

test('rewriteInPlace: same inode (bind-mounted /etc/hosts), exact new content, shorter or longer', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skhosts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hosts');
  writeFileSync(file, '127.0.0.1\tlocalhost\n10.9.0.2\tabc\n10.9.0.3\tdb long line\n');
  const ino = statSync(file).ino;
  rewriteInPlace(file, '127.0.0.1\tlocalhost\n');
  t.is(readFileSync(file, 'utf8'), '127.0.0.1\tlocalhost\n');
  rewriteInPlace(file, '127.0.0.1\tlocalhost\n10.9.0.4\tcache cache-alias\n');
  t.is(readFileSync(file, 'utf8'), '127.0.0.1\tlocalhost\n10.9.0.4\tcache cache-alias\n');
  t.is(statSync(file).ino, ino);
});

test('networkModeOf: NetworkMode "default" with EndpointsConfig naming only user networks puts eth0 on the first of them, as Docker does', (t) => {
  t.is(networkModeOf(undefined, {}), 'bridge');
  t.is(networkModeOf('default', {}), 'bridge');
  t.is(networkModeOf('', { mynet: { Aliases: ['x'] } }), 'mynet');
  t.is(networkModeOf('default', { mynet: {}, other: {} }), 'mynet');
  t.is(networkModeOf('default', { bridge: {}, mynet: {} }), 'bridge');
  t.is(networkModeOf('mynet', { other: {} }), 'mynet');
  t.is(networkModeOf('none', { mynet: {} }), 'none');
});

test('the fixed ids of host and none are the hashes networkId would compute', (t) => {
  for (const [name, id] of Object.entries(FIXED_NETWORK_IDS)) {
    t.is(id, createHash('sha256').update(`skiff-network:${name}`).digest('hex'), name);
    t.is(networkId(name), id);
  }
});
