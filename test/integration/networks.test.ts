// User-defined networks against the real kernel: `skiff network create|ls|
// inspect|rm|connect|disconnect`, containers reaching each other by name and
// alias through /etc/hosts, isolation between networks, and nothing left
// behind. Each test has its own pool and bridge prefix (_user-net.ts) and
// talks only to addresses inside the networks it made.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { it, sysTool } from './_harness.js';
import { isolationDrops, netHarness, userNetLeftovers } from './_user-net.js';

/** busybox httpd answering "text" on port 80. */
const web = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];
/** A shell line fetching http://HOST/ with nc (busybox wget would resolve through glibc NSS). */
const get = (host: string) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} 80 | tail -1`;

it('network create, ls, inspect, rm: a bridge and subnet of its own, labels, filters, Docker\'s errors', async (t) => {
  const h = await netHarness(t);
  const [a, b, c] = h.pool.split('.').map(Number);
  const id = (await h.ok(t, ['network', 'create', '--label', 'team=blue', 'front'])).trim();
  t.regex(id, /^[0-9a-f]{64}$/);
  const explicit = `${a}.${b}.${c}.128/26`;
  await h.ok(t, ['network', 'create', '--subnet', explicit, '--gateway', `${a}.${b}.${c}.190`, '--internal', '-o', 'com.docker.network.bridge.name=' + `${h.prefix}x`, 'back']);

  // ls: Docker's columns, sorted by name; filters by label, name, type.
  const rows = (await h.ok(t, ['network', 'ls'])).trim().split('\n');
  t.regex(rows[0], /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
  t.deepEqual(rows.slice(1).map((r) => r.split(/\s+/).slice(1).join(' ')), ['back bridge local', 'bridge bridge local', 'front bridge local', 'host host local', 'none null local']);
  t.true(rows.some((r) => r.startsWith(`${id.slice(0, 12)} `)));
  t.is((await h.ok(t, ['network', 'ls', '-f', 'label=team=blue', '--format', '{{.Name}} {{.Labels}}'])).trim(), 'front team=blue');
  t.is((await h.ok(t, ['network', 'ls', '-f', 'type=custom', '--format', '{{.Name}}'])).trim(), 'back\nfront');
  t.is((await h.ok(t, ['network', 'ls', '-q', '--no-trunc', '-f', 'name=front'])).trim(), id);

  // inspect: the first /26 of the pool for `front`, the asked one for `back`; the bridges exist with the gateways.
  const view = JSON.parse(await h.ok(t, ['network', 'inspect', 'front']))[0];
  t.is(view.Id, id);
  t.is(view.Driver, 'bridge');
  t.deepEqual(view.IPAM.Config, [{ Subnet: `${a}.${b}.${c}.0/26`, Gateway: `${a}.${b}.${c}.1` }]);
  t.deepEqual(view.Labels, { team: 'blue' });
  const bridge = view.Options['com.docker.network.bridge.name'] as string;
  t.true(bridge.startsWith(h.prefix) && bridge.length <= 15, bridge);
  const addr = (dev: string) => execFileSync(sysTool('ip'), ['-4', '-o', 'addr', 'show', 'dev', dev], { encoding: 'utf8' });
  t.regex(addr(bridge), new RegExp(`inet ${a}\\.${b}\\.${c}\\.1/26 `));
  t.is(await h.ok(t, ['network', 'inspect', '-f', '{{.Internal}} {{(index .IPAM.Config 0).Subnet}}', id.slice(0, 10)]), `false ${a}.${b}.${c}.0/26\n`);
  t.is(await h.ok(t, ['network', 'inspect', '-f', '{{.Internal}} {{(index .IPAM.Config 0).Subnet}}', 'back']), `true ${explicit}\n`);
  t.regex(addr(`${h.prefix}x`), new RegExp(`inet ${a}\\.${b}\\.${c}\\.190/26 `));

  // Bad input: one line, Docker's wording, nothing made.
  const dup = await h.run(['network', 'create', 'front']);
  t.is(dup.code, 1);
  t.is(dup.stderr.trim(), 'skiff: network with name front already exists');
  const overlap = await h.run(['network', 'create', '--subnet', `${a}.${b}.${c}.0/24`, 'wide']);
  t.is(overlap.code, 1);
  t.regex(overlap.stderr, /^skiff: Pool overlaps with other one on this address space/);
  const gw = await h.run(['network', 'create', '--subnet', `${a}.${b}.${c}.64/26`, '--gateway', `${a}.${b}.${c}.1`, 'gw']);
  t.regex(gw.stderr, /invalid gateway/);
  t.is((await h.run(['network', 'create', '-d', 'nosuchdriver', 'x'])).stderr.trim(), 'skiff: plugin "nosuchdriver" not found');
  const unknown = await h.run(['network', 'rm', 'nosuch']);
  t.is(unknown.code, 1);
  t.is(unknown.stderr.trim(), 'skiff: network nosuch not found');
  t.regex((await h.run(['network', 'rm', 'host'])).stderr, /host is a pre-defined network and cannot be removed/);
  const runBad = await h.run(['run', '--rm', '--network', 'nosuch', 'busybox', 'true']);
  t.is(runBad.code, 125);
  t.is(runBad.stderr.trim(), 'skiff: network nosuch not found');
  t.is((await h.ok(t, ['network', 'ls', '-q', '-f', 'type=custom'])).trim().split('\n').length, 2, 'no network made by the failures');

  // rm: the bridges, their state and tables go.
  t.is(await h.ok(t, ['network', 'rm', 'front', 'back']), 'front\nback\n');
  t.deepEqual(userNetLeftovers(h.prefix), []);
  t.false(existsSync(`/sys/class/net/${bridge}`));
});

it('containers on a network reach each other by name and alias, not across networks; connect, disconnect, rm refused in use; nothing left', async (t) => {
  const h = await netHarness(t);
  await h.ok(t, ['network', 'create', 'neta']);
  await h.ok(t, ['network', 'create', 'netb']);
  const webId = (await h.ok(t, ['run', '-d', '--name', 'web', '--network', 'neta', '--network-alias', 'www', 'busybox', ...web('hello-net')])).trim();
  const webIp = (await h.ok(t, ['inspect', '-f', '{{.NetworkSettings.Networks.neta.IPAddress}}', 'web'])).trim();
  t.regex(webIp, /^\d+\.\d+\.\d+\.\d+$/);
  t.is((await h.ok(t, ['inspect', '-f', '{{json .NetworkSettings.Networks.neta.Aliases}} {{.HostConfig.NetworkMode}}', 'web'])).trim(), `["www","${webId.slice(0, 12)}"] neta`);

  // Same network: by container name, by alias, ping; /etc/hosts lists the peer.
  const same = await h.ok(t, ['run', '--rm', '--network', 'neta', 'busybox', 'sh', '-c',
    `sleep 0.3; ${get('web')}; ${get('www')}; ping -c1 -W2 www >/dev/null && echo ping-ok; grep -w web /etc/hosts`]);
  t.is(same, `hello-net\nhello-net\nping-ok\n${webIp}\tweb www ${webId.slice(0, 12)}\n`);

  // Another network: the name is unknown and the address unreachable (the isolation rules drop it).
  await h.ok(t, ['run', '-d', '--name', 'other', '--network', 'netb', 'busybox', 'sleep', '300']);
  const before = isolationDrops(h.prefix);
  const cross = await h.run(['exec', 'other', 'sh', '-c', `grep -c web /etc/hosts; nc -w 2 web 80 </dev/null; echo name=$?; ${get(webIp)}; ping -c1 -W1 ${webIp} >/dev/null; echo ping=$?`]);
  t.is(cross.stdout, '0\nname=1\nping=1\n', cross.stderr);
  t.true(isolationDrops(h.prefix) > before, 'the isolation rules counted the dropped packets');

  // rm while in use: refused, with Docker's message.
  const netaId = (await h.ok(t, ['network', 'inspect', '-f', '{{.Id}}', 'neta'])).trim();
  const busy = await h.run(['network', 'rm', 'neta']);
  t.is(busy.code, 1);
  t.is(busy.stderr.trim(), `skiff: error while removing network: network neta id ${netaId} has active endpoints`);
  t.is(await h.ok(t, ['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}', 'neta']), `web ${webIp}/26\n`);

  // connect: web gets eth1 on netb; `other` reaches it by name and by the new alias, its /etc/hosts rewritten in place.
  const inode = (await h.ok(t, ['exec', 'other', 'stat', '-c', '%i', '/etc/hosts'])).trim();
  await h.ok(t, ['network', 'connect', '--alias', 'web2', 'netb', 'web']);
  t.regex(await h.ok(t, ['exec', 'web', 'ip', '-o', '-4', 'addr', 'show', 'eth1']), /inet \d+\.\d+\.\d+\.\d+\/26/);
  t.is(await h.ok(t, ['exec', 'other', 'sh', '-c', `${get('web2')}; ${get('web')}`]), 'hello-net\nhello-net\n');
  t.is((await h.ok(t, ['exec', 'other', 'stat', '-c', '%i', '/etc/hosts'])).trim(), inode, 'same inode: the bind mount shows the new text');
  t.is((await h.ok(t, ['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'web'])).trim(), 'neta netb');
  const dupConnect = await h.run(['network', 'connect', 'netb', 'web']);
  t.is(dupConnect.code, 1);
  t.regex(dupConnect.stderr, /endpoint with name web already exists in network netb/);

  // disconnect: eth1 and the names go; neta is untouched.
  await h.ok(t, ['network', 'disconnect', 'netb', 'web']);
  t.regex((await h.run(['exec', 'web', 'ip', 'link', 'show', 'eth1'])).stderr, /can't find device 'eth1'/);
  t.is((await h.ok(t, ['exec', 'other', 'sh', '-c', 'grep -c web /etc/hosts || true'])).trim(), '0');
  t.is(await h.ok(t, ['run', '--rm', '--network', 'neta', 'busybox', 'sh', '-c', get('www')]), 'hello-net\n');
  const notOn = await h.run(['network', 'disconnect', 'netb', 'web']);
  t.regex(notOn.stderr, /is not connected to network netb/);

  // A stopped member leaves the others' /etc/hosts, and its lease; a network with only stopped containers can go.
  await h.ok(t, ['run', '-d', '--name', 'peer', '--network', 'netb', 'busybox', 'sleep', '300']);
  t.is((await h.ok(t, ['exec', 'other', 'sh', '-c', 'grep -c peer /etc/hosts'])).trim(), '1');
  await h.ok(t, ['stop', '-t', '0', 'peer']);
  t.is((await h.ok(t, ['exec', 'other', 'sh', '-c', 'grep -c peer /etc/hosts || true'])).trim(), '0');

  // Everything goes: containers, then the networks; no bridge, veth, lease, table or state is left.
  const bridges = await Promise.all(['neta', 'netb'].map(async (n) => (await h.ok(t, ['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', n])).trim()));
  const veths = bridges.flatMap((b) => readdirSync(`/sys/class/net/${b}/brif`));
  t.is(veths.length, 2, `web on neta, other on netb: ${veths.join(' ')}`);
  const leases = () => bridges.flatMap((b) => Object.keys((JSON.parse(readFileSync(`/run/skiff/net/${b}/state.json`, 'utf8')) as { leases: object }).leases));
  t.is(leases().length, 2);
  await h.ok(t, ['rm', '-f', 'web', 'other', 'peer']);
  t.deepEqual(veths.filter((v) => existsSync(`/sys/class/net/${v}`)), [], 'no veth left');
  t.deepEqual(leases(), [], 'no lease left');
  t.is(await h.ok(t, ['network', 'rm', 'neta', 'netb']), 'neta\nnetb\n');
  t.deepEqual(userNetLeftovers(h.prefix), []);
});

it('network rm racing a start on the network: either the start wins (rm refused) or rm does and the start fails with "network NAME not found"; no bridge is left behind', async (t) => {
  const h = await netHarness(t);
  const outcomes = new Set<string>();
  for (const [i, delay] of [0, 100, 250, 400, 550, 700, 900].entries()) {
    const name = `race${i}`;
    await h.ok(t, ['network', 'create', name]);
    const bridge = (await h.ok(t, ['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', name])).trim();
    const start = h.run(['run', '-d', '--name', `c${i}`, '--network', name, 'busybox', 'sleep', '300']);
    await new Promise((r) => setTimeout(r, delay));
    const rm = await h.run(['network', 'rm', name]);
    const run = await start;
    if (rm.code === 0) {
      outcomes.add('rm');
      t.not(run.code, 0, 'the start cannot succeed on a removed network');
      t.regex(run.stderr, new RegExp(`network ${name} not found`));
      t.false(existsSync(`/sys/class/net/${bridge}`), `no bridge ${bridge} without a network`);
      t.false(existsSync(`/run/skiff/net/${bridge}`), 'no state without a network');
    } else {
      outcomes.add('start');
      t.is(run.code, 0, run.stderr);
      t.regex(rm.stderr, /has active endpoints/);
      await h.ok(t, ['rm', '-f', `c${i}`]);
      await h.ok(t, ['network', 'rm', name]);
    }
    await h.run(['rm', '-f', `c${i}`]);
  }
  t.log(`outcomes: ${[...outcomes].join(', ')}`);
  t.deepEqual(userNetLeftovers(h.prefix), []);
});

it('/etc/hosts rewritten as members join and leave is never seen without localhost by a container reading it in a loop', async (t) => {
  const h = await netHarness(t);
  await h.ok(t, ['network', 'create', 'hostsnet']);
  // Shell builtins only: a grep per read made a fork storm that, on a loaded
  // 2-core CI machine, slowed every cgroup.procs write (exec's too) past the
  // command timeout.
  await h.ok(t, ['run', '-d', '--name', 'reader', '--network', 'hostsnet', 'busybox', 'sh', '-c',
    'n=0; while [ ! -e /tmp/stop ]; do f=0; while read -r l; do case "$l" in *localhost*) f=1;; esac; done < /etc/hosts; [ $f = 1 ] || echo MISSING; n=$((n+1)); done; echo reads=$n']);
  // Each start and stop of a peer rewrites reader's file (a peer block added, then dropped).
  for (let i = 0; i < 4; i++) {
    await h.ok(t, ['run', '-d', '--name', `p${i}`, '--network-alias', `alias${i}`, '--network', 'hostsnet', 'busybox', 'sleep', '300']);
    await h.ok(t, ['rm', '-f', `p${i}`]);
  }
  await h.ok(t, ['exec', 'reader', 'touch', '/tmp/stop']);
  t.is((await h.ok(t, ['wait', 'reader'])).trim(), '0');
  const logs = await h.ok(t, ['logs', 'reader']);
  t.regex(logs, /^reads=\d+\n$/, 'no read found the file without localhost');
  t.true(Number(logs.match(/reads=(\d+)/)![1]) > 100, logs);
  await h.ok(t, ['rm', '-f', 'reader']);
  await h.ok(t, ['network', 'rm', 'hostsnet']);
  t.deepEqual(userNetLeftovers(h.prefix), []);
});
