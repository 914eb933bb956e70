// The bridge network against the real kernel: veth pairs, the address pool,
// published ports (DNAT + userland proxy), links. Every test has its own
// bridge and /24 (the harness picks them), and talks only to loopback and to
// addresses inside that bridge: its gateway (this host's own address there)
// and its containers. Each test ends by removing everything and asserting
// that no veth, lease, nft table, bridge or state is left.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import test from 'ava';
import { displayablePorts, parsePublish } from '../../runtime/network/ports.js';
import { linkEnv } from '../../runtime/network/links.js';
import type { ContainerRecord } from '../../runtime/container/model.js';
import { type Harness, harness, it, sysTool } from './_harness.js';
import {
  assertNetClean, bridgeMembers, bridgeState, fetchText, freePort, freeRange, ipForward, monitorPid, portBusy, udpAsk, udpEchoIn,
  vethsOf, webApp,
} from './_net-util.js';

const inspect = async (h: Awaited<ReturnType<typeof harness>>, t: Parameters<Parameters<typeof it>[1]>[0], ref: string, fmt: string) =>
  (await h.ok(t, ['inspect', '-f', fmt, ref])).trim();

const nftChain = (bridge: string, chain: string) => execFileSync(sysTool('nft'), ['list', 'chain', 'ip', `skiff-${bridge}`, chain], { encoding: 'utf8' });


/** What a detached container's monitor runs as, once it has had time to exec into skiff-shim (right after reporting the start). */
async function monitorComm(h: Harness, id: string): Promise<string> {
  const mon = monitorPid(h, id);
  let comm = '';
  for (let i = 0; i < 100 && (comm = readFileSync(`/proc/${mon}/comm`, 'utf8').trim()) !== 'skiff-shim'; i++) await new Promise((r) => setTimeout(r, 20));
  return comm;
}

const rssOf = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

it('seed: run -d -P, port, the page through 127.0.0.1, the host address on the bridge and another container', async (t) => {
  const forwardBefore = existsSync('/run/skiff/net/forward.json') ? undefined : ipForward();
  const h = await harness(t);
  const { gateway, bridge, subnet } = h.net;
  const prefix = subnet.split('.').slice(0, 3).join('.');
  const id = (await h.ok(t, ['run', '-d', '-P', '--expose', '5000', '--name', 'web', 'busybox', ...webApp('hello-web')])).trim();

  const all = (await h.ok(t, ['port', 'web'])).trim();
  const m = /^5000\/tcp -> 0\.0\.0\.0:(\d+)$/.exec(all);
  t.truthy(m, `port web: ${all}`);
  const hp = Number(m![1]);
  t.true(hp >= 49000 && hp <= 49900, `-P takes the seed's range 49000-49900 (got ${hp})`);
  t.is((await h.ok(t, ['port', 'web', '5000'])).trim(), `0.0.0.0:${hp}`);
  t.is((await h.ok(t, ['port', 'web', '5000/tcp'])).trim(), `0.0.0.0:${hp}`);
  const none = await h.run(['port', 'web', '6000']);
  t.is(none.code, 1);
  t.regex(none.stderr, /No public port '6000' published for web/);

  // Loopback and the gateway (this host's address on the bridge) both go through DNAT, skiff's default.
  t.is(await fetchText('127.0.0.1', hp), 'hello-web\n');
  t.is(await fetchText(gateway, hp), 'hello-web\n');
  const ip = await inspect(h, t, 'web', '{{.NetworkSettings.IPAddress}}');
  t.regex(nftChain(bridge, 'published'), new RegExp(`tcp dport ${hp} counter packets [1-9]\\d* bytes \\d+ dnat to ${ip.replace(/\./g, '\\.')}:5000`));

  // Egress: forwarding on, MASQUERADE for the subnet in skiff's own table.
  t.is(ipForward(), '1');
  t.regex(nftChain(bridge, 'postrouting'), new RegExp(`ip saddr ${subnet.replace(/\./g, '\\.').replace('/', '\\/')} oifname != "${bridge}" masquerade`));

  // ps and inspect, Docker's forms.
  t.is((await h.ok(t, ['ps', '--format', '{{.Names}} {{.Ports}}'])).trim(), `web 0.0.0.0:${hp}->5000/tcp`);
  t.true(ip.startsWith(`${prefix}.`) && ip !== gateway, ip);
  t.is(await inspect(h, t, 'web', '{{.NetworkSettings.Gateway}}'), gateway);
  t.is(await inspect(h, t, 'web', '{{.NetworkSettings.IPPrefixLen}}'), '24');
  const mac = ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
  t.is(await inspect(h, t, 'web', '{{.NetworkSettings.MacAddress}}'), mac);
  t.is(await inspect(h, t, 'web', '{{json .NetworkSettings.Ports}}'), JSON.stringify({ '5000/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hp) }] }));
  t.is(await inspect(h, t, 'web', '{{.NetworkSettings.Networks.bridge.IPAddress}}'), ip);
  t.is(await inspect(h, t, 'web', '{{.HostConfig.NetworkMode}}'), 'bridge');

  // Inside: eth0 with that address and MAC, a default route via the gateway, lo up, /etc/hosts with our own line.
  const inside = await h.ok(t, ['run', '--rm', '--name', 'peek', '-h', 'peek', 'busybox', 'sh', '-c',
    'cat /sys/class/net/eth0/address; ip -4 -o addr show eth0; ip route; cat /sys/class/net/lo/operstate; tail -1 /etc/hosts']);
  const [pmac, paddr, ...rest] = inside.trim().split('\n');
  const pip = /inet (\S+)\/24/.exec(paddr)![1];
  t.is(pmac, ['02', '42', ...pip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':'));
  t.true(rest.includes(`default via ${gateway} dev eth0 `) || rest.includes(`default via ${gateway} dev eth0`), rest.join('|'));
  t.is(rest.at(-1), `${pip}\tpeek`);

  // Another container reaches the published port on the host address (proxy) and the web container by IP.
  t.is(await h.ok(t, ['run', '--rm', 'busybox', 'sh', '-c', `wget -qO- http://${gateway}:${hp}/ && wget -qO- http://${ip}:5000/`]), 'hello-web\nhello-web\n');

  await assertNetClean(t, h, [id]);
  t.false(await portBusy('tcp', '0.0.0.0', hp), 'the proxy is gone');
  if (forwardBefore !== undefined && !existsSync('/run/skiff/net/forward.json')) t.is(ipForward(), forwardBefore, 'ip_forward restored');
});

it('-p 127.0.0.1:PORT:CPORT, 127.0.0.1::CPORT, a range and several -p at once; ps groups like Docker', async (t) => {
  const h = await harness(t);
  const p1 = await freePort();
  const r = await freeRange(2);
  const id = (await h.ok(t, ['run', '-d', '--name', 'multi', '-p', `127.0.0.1:${p1}:5000`, '-p', '127.0.0.1::5000', '-p', `${r}-${r + 1}:5000-5001`,
    'busybox', 'sh', '-c', 'mkdir -p /www && echo multi > /www/index.html && httpd -p 5001 -h /www && exec httpd -f -p 5000 -h /www'])).trim();
  const lines = (await h.ok(t, ['port', 'multi'])).trim().split('\n');
  const rand = Number(lines.find((l) => l.startsWith('5000/tcp -> 127.0.0.1:') && !l.endsWith(`:${p1}`))!.split(':')[1]);
  const [lo, hi] = [p1, rand].sort((a, b) => a - b);
  t.deepEqual(lines, [`5000/tcp -> 0.0.0.0:${r}`, `5000/tcp -> 127.0.0.1:${lo}`, `5000/tcp -> 127.0.0.1:${hi}`, `5001/tcp -> 0.0.0.0:${r + 1}`]);
  t.deepEqual((await h.ok(t, ['port', 'multi', '5000'])).trim().split('\n'), [`0.0.0.0:${r}`, `127.0.0.1:${lo}`, `127.0.0.1:${hi}`]);
  for (const port of [p1, rand, r, r + 1]) t.is(await fetchText('127.0.0.1', port), 'multi\n', `127.0.0.1:${port}`);
  t.is(await fetchText(h.net.gateway, r + 1), 'multi\n');
  // Bound to 127.0.0.1 only: not published on the bridge's address.
  await t.throwsAsync(fetchText(h.net.gateway, p1, 1));
  t.is((await h.ok(t, ['ps', '--format', '{{.Ports}}'])).trim(),
    `0.0.0.0:${r}->5000/tcp, 127.0.0.1:${lo}->5000/tcp, 127.0.0.1:${hi}->5000/tcp, 0.0.0.0:${r + 1}->5001/tcp`);

  // Same host and container numbers group into a range, exposed-only ports show bare.
  const g = await freeRange(3);
  await h.ok(t, ['run', '-d', '--name', 'grouped', '--expose', '7000', '-p', `${g}-${g + 2}:${g}-${g + 2}`, 'busybox', 'sleep', '300']);
  const rows = (await h.ok(t, ['ps', '--format', '{{.Names}}|{{.Ports}}'])).trim().split('\n');
  t.is(rows.find((l) => l.startsWith('grouped|')), `grouped|7000/tcp, 0.0.0.0:${g}-${g + 2}->${g}-${g + 2}/tcp`);
  await assertNetClean(t, h, [id]);
});

it('-p .../udp: datagrams reach the container through DNAT (loopback and host address); skiff-shim holds the ports', async (t) => {
  const h = await harness(t);
  const u = await freePort();
  const id = (await h.ok(t, ['run', '-d', '--name', 'udp', '-p', '127.0.0.1::5000/udp', '-p', `${u}:5001/udp`, 'busybox', 'sleep', '300'])).trim();
  const pid = Number(await inspect(h, t, 'udp', '{{.State.Pid}}'));
  await udpEchoIn(t, pid, 5000);
  await udpEchoIn(t, pid, 5001);
  const lines = (await h.ok(t, ['port', 'udp'])).trim().split('\n');
  t.is(lines.length, 2);
  t.regex(lines[0], /^5000\/udp -> 127\.0\.0\.1:\d+$/);
  t.is(lines[1], `5001/udp -> 0.0.0.0:${u}`);
  const x = Number(lines[0].split(':')[1]);
  // The monitor has become skiff-shim, which holds both ports (and would relay them with the userland proxy, below).
  t.is(await monitorComm(h, id), 'skiff-shim', 'no Node process stays for a UDP port either');
  t.is(await udpAsk('127.0.0.1', x, 'hi'), 'echo:hi');
  t.is(await udpAsk('127.0.0.1', u, 'ho'), 'echo:ho');
  t.is(await udpAsk(h.net.gateway, u, 'hey'), 'echo:hey');
  t.regex((await h.ok(t, ['ps', '--format', '{{.Ports}}'])).trim(), new RegExp(`^127\\.0\\.0\\.1:${x}->5000/udp, 0\\.0\\.0\\.0:${u}->5001/udp$`));
  await assertNetClean(t, h, [id]);
  t.false(await portBusy('udp', '0.0.0.0', u));
});

it('-p .../udp with the userland proxy: skiff-shim relays the datagrams, a flow per client; no Node process stays', async (t) => {
  const h = await harness(t);
  const env = { SKIFF_USERLAND_PROXY: '1' };
  const id = (await h.ok(t, ['run', '-d', '-p', '127.0.0.1::5000/udp', 'busybox', 'sleep', '300'], { env })).trim();
  const pid = Number(await inspect(h, t, id, '{{.State.Pid}}'));
  await udpEchoIn(t, pid, 5000);
  const x = Number((await h.ok(t, ['port', id, '5000/udp'])).trim().split(':')[1]);
  const mon = monitorPid(h, id);
  t.is(await monitorComm(h, id), 'skiff-shim');
  const rssKiB = rssOf(mon);
  t.true(rssKiB < 4096, `skiff-shim's RSS: ${rssKiB} KiB`);
  t.log(`skiff-shim relaying 127.0.0.1:${x}/udp: RSS ${rssKiB} KiB`);
  const sockets = () => readdirSync(`/proc/${mon}/fd`).filter((f) => {
    try {
      return readlinkSync(`/proc/${mon}/fd/${f}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
  const before = sockets();
  t.is(await udpAsk('127.0.0.1', x, 'one'), 'echo:one');
  t.is(await udpAsk('127.0.0.1', x, 'two'), 'echo:two');
  t.is(sockets(), before + 2, 'a flow (its own socket towards the container) per client address; each ask is a new client port');
  await h.ok(t, ['rm', '-f', id]);
  t.false(await portBusy('udp', '127.0.0.1', x), 'the port is free once the container is gone');
  await assertNetClean(t, h, [id]);
});

it('links: env vars, /etc/hosts, ping by alias, names in ps, HostConfig.Links, talking without published ports', async (t) => {
  const h = await harness(t);
  const ids: string[] = [];
  ids.push((await h.ok(t, ['run', '-d', '--name', 'db', '-e', 'DBPASS=secret', '--expose', '5432', 'busybox', ...webApp('from-db', 5432)])).trim());
  const dbip = await inspect(h, t, 'db', '{{.NetworkSettings.IPAddress}}');
  const dbhost = await inspect(h, t, 'db', '{{.Config.Hostname}}');

  // The seed's `docker run --rm --name web2 --link db:db IMAGE env`.
  const env = (await h.ok(t, ['run', '--rm', '--name', 'web2', '--link', 'db:db', 'busybox', 'env'])).split('\n').filter((l) => l.startsWith('DB_')).sort();
  t.deepEqual(env, [
    'DB_ENV_DBPASS=secret',
    'DB_NAME=/web2/db',
    `DB_PORT=tcp://${dbip}:5432`,
    `DB_PORT_5432_TCP=tcp://${dbip}:5432`,
    `DB_PORT_5432_TCP_ADDR=${dbip}`,
    'DB_PORT_5432_TCP_PORT=5432',
    'DB_PORT_5432_TCP_PROTO=tcp',
  ]);

  // /etc/hosts and ping by alias inside the linking container; the linked one answers without any published port.
  const out = await h.ok(t, ['run', '--rm', '--link', 'db:db', 'busybox', 'sh', '-c', 'grep -w db /etc/hosts; ping -c 1 -W 3 db; wget -qO- http://db:5432/']);
  t.true(out.includes(`${dbip}\tdb ${dbhost}\n`), out);
  t.true(out.includes(`64 bytes from ${dbip}`), out);
  t.true(out.endsWith('from-db\n'), out);

  // An alias that differs from the name: the name is listed too.
  const aliased = await h.ok(t, ['run', '--rm', '--name', 'app', '--link', 'db:my-store', 'busybox', 'sh', '-c', 'env | grep ^MY_STORE_NAME=; grep my-store /etc/hosts']);
  t.is(aliased, `MY_STORE_NAME=/app/my-store\n${dbip}\tmy-store ${dbhost} db\n`);

  // The seed: web linked to db; ps NAMES shows db,web/db; inspect shows Docker's Links form.
  ids.push((await h.ok(t, ['run', '-d', '-P', '--name', 'web', '--link', 'db:db', 'busybox', 'sleep', '300'])).trim());
  const names = (await h.ok(t, ['ps', '--format', '{{.Names}}'])).trim().split('\n').sort();
  t.deepEqual(names, ['db,web/db', 'web']);
  t.is(await inspect(h, t, 'web', '{{json .HostConfig.Links}}'), '["/db:/web/db"]');
  t.is(await inspect(h, t, 'db', '{{json .HostConfig.Links}}'), 'null');

  // Errors: a missing or stopped link target.
  const missing = await h.run(['run', '--rm', '--link', 'nope:x', 'busybox', 'true']);
  t.is(missing.code, 125);
  t.regex(missing.stderr, /could not get container for nope/);
  ids.push((await h.ok(t, ['run', '-d', '--name', 'stopped', 'busybox', 'true'])).trim());
  await h.ok(t, ['wait', 'stopped']);
  const stopped = await h.run(['run', '--rm', '--name', 'web3', '--link', 'stopped:s', 'busybox', 'true']);
  t.is(stopped.code, 125);
  t.regex(stopped.stderr, /Cannot link to a non running container: \/stopped AS \/web3\/s/);
  t.is(h.containerIds().length, 3, 'the failed runs left no container');
  await assertNetClean(t, h, ids);
});

it('20 parallel run -d get 20 distinct addresses, all reachable; after rm nothing is left', async (t) => {
  const h = await harness(t);
  const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => h.run(['run', '-d', 'busybox', ...webApp(`c${i}`, 80)], { timeoutMs: 150_000 })));
  t.deepEqual(runs.map((r) => r.code), Array(20).fill(0), runs.map((r) => r.stderr).join(''));
  const ids = runs.map((r) => r.stdout.trim());
  const ips = (await h.ok(t, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', ...ids])).trim().split('\n');
  t.is(new Set(ips).size, 20, ips.join(' '));
  const prefix = h.net.subnet.split('.').slice(0, 3).join('.');
  t.true(ips.every((ip) => ip.startsWith(`${prefix}.`) && ip !== h.net.gateway));
  t.is(Object.keys(bridgeState(h)!.leases).length, 20);
  t.is(bridgeMembers(h).length, 20);
  const bodies = await Promise.all(ips.map((ip) => fetchText(ip, 80)));
  t.deepEqual(bodies.sort(), Array.from({ length: 20 }, (_, i) => `c${i}\n`).sort());
  await assertNetClean(t, h, ids);
});

it('malformed -p, --expose, --ip and --network: a clear error, exit 125, nothing made', async (t) => {
  const h = await harness(t);
  const cases: Array<[string[], RegExp]> = [
    [['-p', '99999:80'], /invalid hostPort: 99999/],
    [['-p', 'abc'], /invalid containerPort: abc/],
    [['-p', '80:abc'], /invalid containerPort: abc/],
    [['-p', '1.2.3:80:80'], /invalid IP address: 1\.2\.3/],
    [['-p', '8000-8002:80-81'], /invalid ranges specified/],
    [['-p', '80/sctp'], /invalid proto: sctp/],
    [['-p', '0:0'], /invalid containerPort: 0/],
    [['--expose', 'x1'], /invalid range format for --expose/],
    [['--ip', '300.1.1.1'], /invalid IPv4 address/],
    [['--network', 'nosuch'], /network nosuch not found/],
    [['--network', 'host', '--link', 'x'], /host type networking can't be used with links/],
  ];
  for (const [flags, re] of cases) {
    const r = await h.run(['run', '-d', ...flags, 'busybox', 'true']);
    t.is(r.code, 125, flags.join(' '));
    t.regex(r.stderr, re, flags.join(' '));
  }
  t.deepEqual(h.containerIds(), []);
  t.false(existsSync(`/sys/class/net/${h.net.bridge}`), 'validation happens before the bridge is even created');
  await assertNetClean(t, h, []);
});

it('parallel run -p on the same host port: exactly one wins, the others fail cleanly', async (t) => {
  const h = await harness(t);
  const p = await freeRange(1);
  const runs = await Promise.all(Array.from({ length: 4 }, (_, i) => h.run(['run', '-d', '-p', `${p}:5000`, 'busybox', ...webApp(`w${i}`)])));
  t.is(runs.filter((r) => r.code === 0).length, 1, runs.map((r) => `${r.code} ${r.stderr}`).join(''));
  for (const r of runs.filter((x) => x.code !== 0)) {
    t.is(r.code, 125);
    t.regex(r.stderr, new RegExp(`Bind for 0\\.0\\.0\\.0:${p} failed: port is already allocated`));
  }
  const winner = runs.find((r) => r.code === 0)!.stdout.trim();
  t.deepEqual(h.containerIds(), [winner]);
  t.deepEqual(Object.keys(bridgeState(h)!.leases), [winner]);
  t.deepEqual(bridgeMembers(h), vethsOf([winner]));
  t.regex(await fetchText('127.0.0.1', p), /^w\d\n$/);
  await assertNetClean(t, h, [winner]);
});

it('a host port held by another process: 125 and no container, veth, lease or rule', async (t) => {
  const h = await harness(t);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    blocker.close();
  });
  const p = (blocker.address() as net.AddressInfo).port;
  const r = await h.run(['run', '-d', '-p', `127.0.0.1:${p}:80`, 'busybox', 'sleep', '100']);
  t.is(r.code, 125);
  t.regex(r.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${p} failed: port is already allocated`));
  t.deepEqual(h.containerIds(), []);
  t.deepEqual(bridgeMembers(h), []);
  t.deepEqual(Object.keys(bridgeState(h)?.leases ?? {}), []);
  t.throws(() => execFileSync(sysTool('nft'), ['list', 'table', 'ip', `skiff-${h.net.bridge}`], { stdio: 'ignore' }));
  await assertNetClean(t, h, []);
});

it('-p TCP with the userland proxy: skiff-shim holds and relays the port, no Node process stays; 4 MiB echo with half-close through 127.0.0.1', async (t) => {
  const h = await harness(t);
  const p = await freeRange(1);
  // The proxy, not DNAT, carries loopback clients then: the relay is what is tested.
  const id = (await h.ok(t, ['run', '-d', '-p', `127.0.0.1:${p}:7000`, 'busybox', 'sleep', '600'], { env: { SKIFF_USERLAND_PROXY: '1' } })).trim();
  const pid = Number(await inspect(h, t, id, '{{.State.Pid}}'));
  // Nothing listens inside yet: the relay's connect is refused, so the client just sees the connection close.
  const refused = await new Promise<string>((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port: p });
    let got = '';
    c.on('data', (d) => (got += d));
    c.on('close', () => resolve(got));
    c.on('error', () => {});
  });
  t.is(refused, '');
  // An echo server in the container's network namespace that answers EOF with EOF (half-close).
  const code = `require('net').createServer({allowHalfOpen:true},(s)=>s.pipe(s)).listen(7000,'0.0.0.0',()=>console.log('ready'))`;
  const server = spawn(sysTool('nsenter'), [`--net=/proc/${pid}/ns/net`, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void server.kill('SIGKILL'));
  await new Promise((resolve) => server.stdout!.once('data', resolve));

  const mon = monitorPid(h, id);
  t.is(await monitorComm(h, id), 'skiff-shim');
  const rssKiB = rssOf(mon);
  t.true(rssKiB < 4096, `skiff-shim's RSS: ${rssKiB} KiB`);
  t.log(`skiff-shim relaying 127.0.0.1:${p}: RSS ${rssKiB} KiB`);

  const payload = randomBytes(4 << 20);
  const echoed = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect({ host: '127.0.0.1', port: p, allowHalfOpen: true }, () => c.end(payload));
    c.on('data', (d) => chunks.push(d));
    c.on('end', () => resolve(Buffer.concat(chunks)));
    c.on('error', reject);
    c.setTimeout(30_000, () => reject(new Error('echo timed out')));
  });
  t.is(echoed.length, payload.length);
  t.true(echoed.equals(payload), 'every byte came back, in order, and the reply ended after the request did');
  await h.ok(t, ['rm', '-f', id]);
  t.false(await portBusy('tcp', '127.0.0.1', p), 'the port is free once the container is gone');
  await assertNetClean(t, h, [id]);
});

it('kill -9 of the monitor, then rm -f: no veth, lease, rule or proxy left', async (t) => {
  const h = await harness(t);
  const p = await freeRange(1);
  const id = (await h.ok(t, ['run', '-d', '-p', `${p}:5000`, '-p', '127.0.0.1::6000/udp', 'busybox', ...webApp('k9')])).trim();
  t.is(await fetchText('127.0.0.1', p), 'k9\n');
  const mon = monitorPid(h, id);
  process.kill(mon, 'SIGKILL');
  for (let i = 0; i < 100 && existsSync(`/proc/${mon}`); i++) await new Promise((r) => setTimeout(r, 20));
  t.is(await fetchText(h.net.gateway, p), 'k9\n', 'DNAT still carries traffic while the container runs');
  await h.ok(t, ['rm', '-f', id]);
  t.deepEqual(vethsOf([id]), []);
  t.deepEqual(Object.keys(bridgeState(h)?.leases ?? {}), []);
  t.throws(() => execFileSync(sysTool('nft'), ['list', 'table', 'ip', `skiff-${h.net.bridge}`], { stdio: 'ignore' }), undefined, 'the last container took the table');
  t.false(await portBusy('tcp', '0.0.0.0', p));
  await assertNetClean(t, h, [id]);
});

it('stop releases the lease and ports, start leases again; --ip pins the address', async (t) => {
  const h = await harness(t);
  const p = await freeRange(1);
  const prefix = h.net.subnet.split('.').slice(0, 3).join('.');
  const id = (await h.ok(t, ['run', '-d', '--name', 's', '-p', `${p}:5000`, 'busybox', ...webApp('again')])).trim();
  t.is(await fetchText('127.0.0.1', p), 'again\n');
  await h.ok(t, ['stop', '-t', '1', 's']);
  t.is(await inspect(h, t, 's', '{{.NetworkSettings.IPAddress}}'), '');
  t.is(await inspect(h, t, 's', '{{json .NetworkSettings.Ports}}'), '{}');
  t.deepEqual(Object.keys(bridgeState(h)!.leases), []);
  t.deepEqual(vethsOf([id]), []);
  t.false(await portBusy('tcp', '0.0.0.0', p));
  t.is((await h.ok(t, ['ps', '-a', '--format', '{{.Names}}|{{.Ports}}'])).trim(), 's|');
  await h.ok(t, ['start', 's']);
  t.is(await fetchText('127.0.0.1', p), 'again\n');
  t.true((await inspect(h, t, 's', '{{.NetworkSettings.IPAddress}}')).startsWith(`${prefix}.`));

  const fixed = (await h.ok(t, ['run', '-d', '--name', 'fixed', '--ip', `${prefix}.77`, 'busybox', 'sleep', '300'])).trim();
  t.is(await inspect(h, t, 'fixed', '{{.NetworkSettings.IPAddress}}'), `${prefix}.77`);
  t.is(await inspect(h, t, 'fixed', '{{.NetworkSettings.MacAddress}}'), `02:42:${prefix.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(':')}:4d`);
  await h.ok(t, ['restart', '-t', '1', 'fixed']);
  t.is(await inspect(h, t, 'fixed', '{{.NetworkSettings.IPAddress}}'), `${prefix}.77`, '--ip survives a restart');
  const taken = await h.run(['run', '--rm', '--ip', `${prefix}.77`, 'busybox', 'true']);
  t.is(taken.code, 125);
  t.regex(taken.stderr, /Address already in use/);
  const outside = await h.run(['run', '--rm', '--ip', '192.0.2.200', 'busybox', 'true']);
  t.is(outside.code, 125);
  t.regex(outside.stderr, /not in the bridge's subnet/);
  await assertNetClean(t, h, [id, fixed]);
});

it('--network none, host and container:NAME', async (t) => {
  const h = await harness(t);
  t.is((await h.ok(t, ['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'])).trim(), 'lo');
  const id = (await h.ok(t, ['run', '-d', '--name', 'web', 'busybox', ...webApp('shared')])).trim();
  const ip = await inspect(h, t, 'web', '{{.NetworkSettings.IPAddress}}');
  const hostView = (await h.ok(t, ['run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net'])).trim().split('\n');
  t.true(hostView.includes(h.net.bridge), 'host mode sees the host interfaces');
  const joined = await h.ok(t, ['run', '--rm', '--network', 'container:web', 'busybox', 'sh', '-c', 'wget -qO- http://127.0.0.1:5000/; ip -4 -o addr show eth0']);
  t.true(joined.startsWith('shared\n'), joined);
  t.true(joined.includes(`inet ${ip}/24`), joined);
  t.is(await inspect(h, t, 'web', '{{.HostConfig.NetworkMode}}'), 'bridge');
  const bad = await h.run(['run', '--rm', '--network', 'container:nope', 'busybox', 'true']);
  t.is(bad.code, 125);
  const conflict = await h.run(['run', '--rm', '--network', 'container:web', '-p', '80', 'busybox', 'true']);
  t.is(conflict.code, 125);
  t.regex(conflict.stderr, /port publishing and the container type network mode/);
  await assertNetClean(t, h, [id]);
});

it('network ls, inspect and prune', async (t) => {
  const h = await harness(t);
  const ls = (await h.ok(t, ['network', 'ls'])).trim().split('\n');
  t.regex(ls[0], /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
  t.deepEqual(ls.slice(1).map((l) => l.split(/\s+/).slice(1).join(' ')), ['bridge bridge local', 'host host local', 'none null local']);
  const id = (await h.ok(t, ['run', '-d', '--name', 'web', 'busybox', 'sleep', '300'])).trim();
  const ip = await inspect(h, t, 'web', '{{.NetworkSettings.IPAddress}}');
  const [net0] = JSON.parse(await h.ok(t, ['network', 'inspect', 'bridge'])) as Array<{
    Name: string; Driver: string; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> }; Options: Record<string, string>;
    Containers: Record<string, { Name: string; IPv4Address: string }>;
  }>;
  t.is(net0.Name, 'bridge');
  t.deepEqual(net0.IPAM.Config, [{ Subnet: h.net.subnet, Gateway: h.net.gateway }]);
  t.is(net0.Options['com.docker.network.bridge.name'], h.net.bridge);
  t.deepEqual(net0.Containers[id], { Name: 'web', EndpointID: '', MacAddress: await inspect(h, t, 'web', '{{.NetworkSettings.MacAddress}}'), IPv4Address: `${ip}/24`, IPv6Address: '' } as never);
  const busy = await h.run(['network', 'prune', '-f']);
  t.is(busy.code, 0);
  t.regex(busy.stderr, /in use by web/);
  t.true(existsSync(`/sys/class/net/${h.net.bridge}`));
  await h.ok(t, ['rm', '-f', 'web']);
  t.is((await h.ok(t, ['network', 'prune', '-f'])).trim(), `Deleted Networks:\n${h.net.bridge}`);
  await assertNetClean(t, h, [id]);
});

it('a command that cannot run on the bridge: 126/127 as without networking, and nothing left', async (t) => {
  const h = await harness(t);
  const p = await freeRange(1);
  const notFound = await h.run(['run', '--rm', '-p', `${p}:80`, 'busybox', 'no-such-command']);
  t.is(notFound.code, 127, notFound.stderr);
  const notExec = await h.run(['run', '-p', `${p}:80`, 'busybox', '/etc/passwd']);
  t.is(notExec.code, 126, notExec.stderr);
  t.deepEqual(h.containerIds(), []);
  t.deepEqual(bridgeMembers(h), []);
  t.deepEqual(Object.keys(bridgeState(h)?.leases ?? {}), []);
  t.false(await portBusy('tcp', '0.0.0.0', p));
  await assertNetClean(t, h, []);
});

test('-p parsing follows Docker (nat.ParsePortSpec)', (t) => {
  t.deepEqual(parsePublish(['5000']), { '5000/tcp': [{ HostIp: '', HostPort: '' }] });
  t.deepEqual(parsePublish(['127.0.0.1::5000/udp']), { '5000/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  t.deepEqual(parsePublish(['8000-8001:80-81']), { '80/tcp': [{ HostIp: '', HostPort: '8000' }], '81/tcp': [{ HostIp: '', HostPort: '8001' }] });
  t.deepEqual(parsePublish(['8000-8010:80']), { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] });
  t.deepEqual(parsePublish(['[127.0.0.1]:1:2', '3:2']), { '2/tcp': [{ HostIp: '127.0.0.1', HostPort: '1' }, { HostIp: '', HostPort: '3' }] });
  t.throws(() => parsePublish(['65536:1']), { message: 'invalid hostPort: 65536' });
  t.throws(() => parsePublish(['1:2:3:4']), { message: /^invalid IP address: 1:2/ });
});

test('ps PORTS grouping follows docker/cli DisplayablePorts', (t) => {
  const p = (IP: string, PrivatePort: number, PublicPort: number, Type = 'tcp') => ({ IP, PrivatePort, PublicPort, Type });
  t.is(displayablePorts([p('0.0.0.0', 5000, 49155)]), '0.0.0.0:49155->5000/tcp');
  t.is(displayablePorts([p('', 9988, 0), p('0.0.0.0', 80, 80), p('0.0.0.0', 81, 81), p('0.0.0.0', 90, 9090)]), '0.0.0.0:80-81->80-81/tcp, 9988/tcp, 0.0.0.0:9090->90/tcp');
  t.is(displayablePorts([p('', 1, 0), p('', 2, 0), p('', 4, 0), p('', 5, 0, 'udp')]), '1-2/tcp, 4/tcp, 5/udp');
});

test('link env follows moby links.ToEnv: lowest port first (tcp before udp), ranges, HOME/PATH left out', (t) => {
  const child = {
    Name: '/db', Config: {
      Hostname: 'abc', Tty: false, Env: ['PATH=/bin', 'HOME=/root', 'HOSTNAME=abc', 'A=1'],
      ExposedPorts: { '6380/tcp': {}, '6379/udp': {}, '6379/tcp': {}, '7000/tcp': {} },
    },
  } as unknown as ContainerRecord;
  t.deepEqual(linkEnv('my-db', child, '10.0.0.5', '/web'), [
    'MY_DB_PORT=tcp://10.0.0.5:6379',
    'MY_DB_PORT_6379_TCP_START=tcp://10.0.0.5:6379',
    'MY_DB_PORT_6379_TCP_ADDR=10.0.0.5',
    'MY_DB_PORT_6379_TCP_PROTO=tcp',
    'MY_DB_PORT_6379_TCP_PORT_START=6379',
    'MY_DB_PORT_6379_TCP_END=tcp://10.0.0.5:6380',
    'MY_DB_PORT_6379_TCP_PORT_END=6380',
    'MY_DB_PORT_6379_TCP=tcp://10.0.0.5:6379',
    'MY_DB_PORT_6379_TCP_ADDR=10.0.0.5',
    'MY_DB_PORT_6379_TCP_PORT=6379',
    'MY_DB_PORT_6379_TCP_PROTO=tcp',
    'MY_DB_PORT_6379_UDP=udp://10.0.0.5:6379',
    'MY_DB_PORT_6379_UDP_ADDR=10.0.0.5',
    'MY_DB_PORT_6379_UDP_PORT=6379',
    'MY_DB_PORT_6379_UDP_PROTO=udp',
    'MY_DB_PORT_6380_TCP=tcp://10.0.0.5:6380',
    'MY_DB_PORT_6380_TCP_ADDR=10.0.0.5',
    'MY_DB_PORT_6380_TCP_PORT=6380',
    'MY_DB_PORT_6380_TCP_PROTO=tcp',
    'MY_DB_PORT_7000_TCP=tcp://10.0.0.5:7000',
    'MY_DB_PORT_7000_TCP_ADDR=10.0.0.5',
    'MY_DB_PORT_7000_TCP_PORT=7000',
    'MY_DB_PORT_7000_TCP_PROTO=tcp',
    'MY_DB_NAME=/web/my-db',
    'MY_DB_ENV_A=1',
  ]);
});
