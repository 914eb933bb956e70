// The bridge network on a host whose firewall drops forwarding, and after
// failures (issue 13, items 12-13). Everything happens inside network
// namespaces the test creates: skiff runs under `ip netns exec`, with its own
// bridge, ip_forward, nftables and iptables FORWARD chain there; the host's
// firewall and ip_forward are never touched. Needs root.
import type { ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, harness, it, sysTool, testNet, type Harness, type Result } from './_harness.js';
import { webApp } from './_net-util.js';

const ip = sysTool('ip');

function sh(args: string[]): string {
  return execFileSync(ip, args, { encoding: 'utf8' });
}

/** Runs a command inside network namespace `ns`. */
function inNs(ns: string, cmd: string[]): string {
  // By absolute path: under npm, PATH's `nft` is @vercel/nft, which prints an error and exits 0.
  return execFileSync(ip, ['netns', 'exec', ns, sysTool(cmd[0]), ...cmd.slice(1)], { encoding: 'utf8' });
}

/** A network namespace of the test's own, removed (with everything skiff made in it) at the end. */
function netns(t: ExecutionContext, h: Harness, tag: string): string {
  const ns = `skt${tag}${randomBytes(3).toString('hex')}`;
  sh(['netns', 'add', ns]);
  t.teardown(async () => {
    const ids = h.containerIds();
    if (ids.length) await skiffIn(h, ns, ['rm', '-f', ...ids]);
    const dir = stateDir(ns);
    try {
      for (const pid of sh(['netns', 'pids', ns]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
    sh(['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });
  sh(['-n', ns, 'link', 'set', 'lo', 'up']);
  // A new namespace copies the host's ip_forward; start from off, so "as found" is visible.
  inNs(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=0']);
  return ns;
}

/** Where skiff keeps its network state for namespace `ns` (see netDir() in runtime/network/host.ts). */
function stateDir(ns: string): string {
  return `/run/skiff/net-ns${inNs(ns, ['stat', '-Lc', '%i', '/proc/self/ns/net']).trim()}`;
}

/**
 * `skiff ARGS` inside `ns`. Like `ip netns exec`, in a mount namespace of its
 * own with a sysfs of that network namespace (skiff looks up interfaces in
 * /sys/class/net), but the cgroup mounts are carried over, which `ip netns
 * exec` loses. With hideNft, /usr/sbin (so nft and iptables) is an empty directory there.
 */
function skiffIn(h: Harness, ns: string, args: string[], opts: { hideNft?: boolean; timeoutMs?: number } = {}): Promise<Result> {
  const setup = [
    'set -e', 'd=$(mktemp -d)', 'mount --rbind /sys/fs/cgroup "$d"', 'mount -t sysfs sysfs /sys', 'mount --move "$d" /sys/fs/cgroup', 'rmdir "$d"',
    ...(opts.hideNft ? ['mount -t tmpfs nft-hidden /usr/sbin'] : []),
    'exec "$0" "$@"',
  ].join('; ');
  const node = [sysTool('nsenter'), `--net=/run/netns/${ns}`, sysTool('unshare'), '-m', '--propagation', 'slave', 'sh', '-c', setup, process.execPath];
  return new Promise((resolve, reject) => {
    const child = spawn(node[0], [...node.slice(1), cli, ...args], { env: h.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 137, stdout, stderr });
    });
  });
}

async function okIn(t: ExecutionContext, h: Harness, ns: string, args: string[]): Promise<string> {
  const r = await skiffIn(h, ns, args);
  if (r.code !== 0) t.fail(`skiff ${args.join(' ')} in ${ns} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A shell line for a container: GET / from host:port with nc (busybox-static's wget crashes in containers, see PLATFORM.md). */
const get = (host: string, port: number) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`;

const forwardRules = (ns: string, bridge: string) =>
  inNs(ns, ['iptables', '-S', 'FORWARD']).split('\n').filter((l) => l.includes(`"skiff ${bridge}"`));

it('FORWARD policy DROP (br_netfilter): container to container, egress and published ports work; the rules go with the last container', async (t) => {
  const h = await harness(t);
  const ns = netns(t, h, 'fw');
  const out = netns(t, h, 'ou');
  t.is(inNs(ns, ['cat', '/proc/sys/net/bridge/bridge-nf-call-iptables']).trim(), '1', 'bridged traffic passes iptables here');
  // An uplink to a second namespace: the "outside world" of this test.
  const up = testNet();
  const [a, b] = [`${ns}u`.slice(0, 15), `${ns}p`.slice(0, 15)];
  const uplinkIp = up.gateway;
  const outsideIp = up.gateway.replace(/\.1$/, '.2');
  sh(['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
  sh(['link', 'set', a, 'netns', ns]);
  sh(['link', 'set', b, 'netns', out]);
  sh(['-n', ns, 'addr', 'add', `${uplinkIp}/24`, 'dev', a]);
  sh(['-n', ns, 'link', 'set', a, 'up']);
  sh(['-n', out, 'addr', 'add', `${outsideIp}/24`, 'dev', b]);
  sh(['-n', out, 'link', 'set', b, 'up']);
  inNs(ns, ['iptables', '-P', 'FORWARD', 'DROP']); // what Docker, ufw and firewalld leave behind
  // A TCP service outside, for egress.
  const server = spawn(ip, ['netns', 'exec', out, process.execPath, '-e',
    `require('net').createServer((s)=>s.end('outside-ok\\n')).listen(7000,'${outsideIp}',()=>console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { server.kill('SIGKILL'); });
  await new Promise((resolve) => server.stdout!.once('data', resolve));

  const bridge = h.net.bridge;
  await okIn(t, h, ns, ['run', '-d', '--name', 'db', '-p', '18080:5000', 'busybox', ...webApp('from-db', 5000)]);
  const dbIp = (await okIn(t, h, ns, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'db'])).trim();
  t.is(forwardRules(ns, bridge).length, 3, 'skiff put its accept rules into FORWARD');
  t.regex(inNs(ns, ['iptables', '-S', 'FORWARD']), /^-P FORWARD DROP$/m, 'the policy stays as the host had it');
  t.is(inNs(ns, ['cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '1');

  const c2c = ['run', '--rm', '--link', 'db:db', 'busybox', 'sh', '-c', `${get('db', 5000)} && echo | nc -w 3 ${outsideIp} 7000`];
  t.regex(await okIn(t, h, ns, c2c), /^HTTP\/1\.[01] 200 [^]*\r\n\r\nfrom-db\noutside-ok\n$/, 'container to container, and egress');
  // Published port, from the outside namespace to the uplink address (DNAT, then FORWARD).
  const published = execFileSync(ip, ['netns', 'exec', out, process.execPath, '-e',
    `require('http').get({host:'${uplinkIp}',port:18080,timeout:5000},(r)=>r.pipe(process.stdout)).on('error',(e)=>{console.error(e.message);process.exit(1)})`], { encoding: 'utf8' });
  t.is(published, 'from-db\n');

  // Control 1: an accept at the forward hook in another nftables table (as skiff's own table would be) does not help:
  // the packet still meets FORWARD's drop.
  const probe = `skt${randomBytes(3).toString('hex')}`;
  execFileSync(ip, ['netns', 'exec', ns, sysTool('nft'), '-f', '-'], {
    input: `table ip ${probe} {\n chain pass {\n  type filter hook forward priority -10; policy accept;\n  iifname "${bridge}" accept\n  oifname "${bridge}" accept\n }\n}\n`,
  });
  const saved = forwardRules(ns, bridge);
  for (const r of saved) inNs(ns, ['iptables', ...r.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((x) => x.replace(/^"|"$/g, ''))]);
  const blocked = await skiffIn(h, ns, ['run', '--rm', 'busybox', 'sh', '-c', get(dbIp, 5000)]);
  t.not(blocked.code, 0, 'control: without skiff\'s FORWARD rules the drop wins, even with an accept in another table');
  t.notRegex(blocked.stdout, /from-db/);
  inNs(ns, ['nft', 'delete', 'table', 'ip', probe]);

  // The last container takes the rules (and ip_forward) with it; a new first container brings them back.
  await okIn(t, h, ns, ['rm', '-f', 'db']);
  t.deepEqual(forwardRules(ns, bridge), []);
  t.is(inNs(ns, ['cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '0');
  await okIn(t, h, ns, ['run', '-d', '--name', 'db2', 'busybox', ...webApp('again', 5000)]);
  t.is(forwardRules(ns, bridge).length, 3);
  const ip2 = (await okIn(t, h, ns, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'db2'])).trim();
  t.regex(await okIn(t, h, ns, ['run', '--rm', 'busybox', 'sh', '-c', get(ip2, 5000)]), /\r\n\r\nagain\n$/);
  await okIn(t, h, ns, ['rm', '-f', 'db2']);
  t.deepEqual(forwardRules(ns, bridge), []);
  t.regex(inNs(ns, ['iptables', '-S', 'FORWARD']), /^-P FORWARD DROP$/m);
  await okIn(t, h, ns, ['network', 'prune', '-f']);
});

it('a failed run (nft missing, command not found) leaves no ip_forward, forward.json or rules; network prune always works', async (t) => {
  const h = await harness(t);
  const ns = netns(t, h, 'fl');
  const dir = stateDir(ns);
  const forward = () => inNs(ns, ['cat', '/proc/sys/net/ipv4/ip_forward']).trim();
  t.is(forward(), '0', 'the test turned forwarding off in its namespace');

  // nft is not installed: a clear error before anything is made.
  const noNft = await skiffIn(h, ns, ['run', '--rm', 'busybox', 'true'], { hideNft: true });
  t.is(noNft.code, 125);
  t.regex(noNft.stderr, /needs 'nft' \(Debian package nftables\)/);
  t.is(forward(), '0', 'ip_forward as found');
  t.false(existsSync(`${dir}/forward.json`), 'no stale forward.json');
  t.is(h.containerIds().length, 0);
  t.is((await skiffIn(h, ns, ['network', 'prune', '-f'])).code, 0);

  // The command cannot run: 127, and the same.
  const missing = await skiffIn(h, ns, ['run', '--rm', 'busybox', 'no-such-command']);
  t.is(missing.code, 127);
  t.is(forward(), '0', 'ip_forward as found after the failed start');
  t.false(existsSync(`${dir}/forward.json`));
  t.is(inNs(ns, ['nft', 'list', 'tables']).trim(), '');

  // nft disappears while a container runs, and its monitor was killed: rm -f alone restores ip_forward and
  // forward.json, and prune works without nft; with nft back, prune also takes the table the run left.
  const id = (await okIn(t, h, ns, ['run', '-d', '--name', 'c1', 'busybox', 'sleep', '60'])).trim();
  t.is(forward(), '1');
  t.true(existsSync(`${dir}/forward.json`));
  const mon = (JSON.parse(readFileSync(join(h.root, 'containers', id, 'state.json'), 'utf8')) as { Skiff: { MonitorPid: number } }).Skiff.MonitorPid;
  process.kill(mon, 'SIGKILL');
  for (let i = 0; i < 100 && existsSync(`/proc/${mon}`); i++) await new Promise((r) => setTimeout(r, 20));
  const rm = await skiffIn(h, ns, ['rm', '-f', 'c1'], { hideNft: true });
  t.is(rm.code, 0, rm.stderr);
  t.is(forward(), '0');
  t.false(existsSync(`${dir}/forward.json`));
  const blind = await skiffIn(h, ns, ['network', 'prune', '-f'], { hideNft: true });
  t.is(blind.code, 0, blind.stderr);
  const prune = await skiffIn(h, ns, ['network', 'prune', '-f']);
  t.is(prune.code, 0, prune.stderr);
  t.false(inNs(ns, ['ip', 'link', 'show']).includes(h.net.bridge), 'the bridge is gone');
  t.is(inNs(ns, ['nft', 'list', 'tables']).trim(), '', 'no table left');
  t.false(existsSync(dir) && existsSync(`${dir}/${h.net.bridge}`), 'no bridge state left');
});
