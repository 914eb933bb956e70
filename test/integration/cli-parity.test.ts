// Docker parity of the everyday CLI flags, on real containers and images:
// --format (table, json, templates) for ps, images, history and network ls;
// ps --filter, -n, -s and its COMMAND column; images --filter; Go's way of
// printing sets in inspect -f; --version and version; --help off a terminal.
import { join } from 'node:path';
import { fixtures, harness, it } from './_harness.js';

const lines = (s: string) => s.trim().split('\n');

it('ps: COMMAND quoted like Docker, --format json/table/template, -n, -s, and every --filter', async (t) => {
  const h = await harness(t);
  const none = ['--network', 'none'];
  await h.ok(t, ['run', '-d', ...none, '--name', 'web', '-l', 'app=web', '-l', 'tier=front', '--expose', '5000', 'busybox', 'sh', '-c', 'echo started; sleep 300']);
  t.is((await h.run(['run', ...none, '--name', 'job3', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
  t.is((await h.run(['run', ...none, '--name', 'job3b', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
  await h.ok(t, ['run', ...none, '--name', 'job0', '-l', 'app=batch', 'busybox', 'true']);
  await h.ok(t, ['create', ...none, '--name', 'fresh', 'busybox', 'sleep', '1']);

  // COMMAND: an argument with spaces in single quotes, cut at 20 with "…" (issue 13, item 9).
  const table = await h.ok(t, ['ps']);
  t.regex(lines(table)[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  t.true(table.includes(`"sh -c 'echo started…"`), table);
  t.is((await h.ok(t, ['ps', '--no-trunc', '--format', '{{.Command}}'])).trim(), `"sh -c 'echo started; sleep 300'"`);

  // json: one object per container, Docker's field names.
  const json = lines(await h.ok(t, ['ps', '--format', 'json'])).map((l) => JSON.parse(l) as Record<string, string>);
  t.is(json.length, 1);
  t.like(json[0], { Names: 'web', Image: 'busybox', State: 'running', Labels: 'app=web,tier=front', Networks: 'none', Command: `"sh -c 'echo started…"` });
  t.regex(json[0].Status, /^Up /);
  t.regex(json[0].CreatedAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
  // table TEMPLATE: a header from the template, aligned.
  t.deepEqual(lines(await h.ok(t, ['ps', '--format', 'table {{.Names}}\\t{{.Label "tier"}}\\t{{.State}}'])),
    ['NAMES     LABEL     STATE', 'web       front     running']);

  // -n/--last: the newest N in any state; -l is -n 1.
  t.deepEqual(lines(await h.ok(t, ['ps', '-n', '2', '--format', '{{.Names}}'])), ['fresh', 'job0']);
  t.deepEqual(lines(await h.ok(t, ['ps', '--last=1', '--format', '{{.Names}}'])), ['fresh']);
  // -s: a SIZE column, Docker's "RW (virtual RW+IMAGE)".
  const sized = lines(await h.ok(t, ['ps', '-s']));
  t.regex(sized[0], /\s+NAMES\s+SIZE$/);
  t.regex(sized[1], /\s+web\s+\d+(\.\d+)?k?B \(virtual 1\.98MB\)$/);
  await h.ok(t, ['exec', 'web', 'sh', '-c', 'head -c 5000 /dev/zero > /big']);
  t.regex(await h.ok(t, ['ps', '--format', '{{.Size}}']), /^5kB \(virtual 1\.99MB\)\n$/);

  const ps = async (...args: string[]) => lines(await h.ok(t, ['ps', ...args, '--format', '{{.Names}}'])).filter(Boolean);
  // Values of one key OR, keys AND; status and exited as Docker.
  t.deepEqual(await ps('-f', 'status=exited'), ['job0', 'job3b', 'job3']);
  t.deepEqual(await ps('-f', 'status=exited', '-f', 'status=created'), ['fresh', 'job0', 'job3b', 'job3']);
  t.deepEqual(await ps('-a', '-f', 'exited=3'), ['job3b', 'job3']);
  t.deepEqual(await ps('-a', '-f', 'exited=3', '-f', 'name=b$'), ['job3b']);
  t.deepEqual(await ps('-a', '-f', 'name=job0', '-f', 'name=web'), ['job0', 'web']);
  t.deepEqual(await ps('-a', '-f', 'label=app'), ['job0', 'web']);
  t.deepEqual(await ps('-a', '-f', 'label=app=batch'), ['job0']);
  const webId = (await h.ok(t, ['inspect', '-f', '{{.Id}}', 'web'])).trim();
  t.deepEqual(await ps('-a', '-f', `id=${webId.slice(0, 6)}`), ['web']);
  t.deepEqual(await ps('-a', '-f', 'ancestor=busybox', '-f', 'status=created'), ['fresh']);
  t.deepEqual(await ps('-a', '-f', 'ancestor=nosuchimage'), []);
  t.deepEqual(await ps('-f', 'network=none'), ['web']);
  t.deepEqual(await ps('-a', '-f', 'network=bridge'), []);
  t.deepEqual(await ps('-a', '-f', 'expose=5000/tcp'), ['web']);
  t.deepEqual(await ps('-a', '-f', 'before=job3b'), ['job3', 'web']);
  t.deepEqual(await ps('-a', '-f', 'since=job0'), ['fresh']);
  t.deepEqual(await ps('-a', '-f', 'publish=80'), []);

  // Bad filters: Docker's words; a missing "=" is a usage error (125).
  const bad = await h.run(['ps', '-f', 'colour=red']);
  t.is(bad.code, 1);
  t.is(bad.stderr, "skiff: invalid filter 'colour'\n");
  t.is((await h.run(['ps', '-f', 'status=sleeping'])).stderr, "skiff: invalid filter 'status=sleeping'\n");
  const usage = await h.run(['ps', '-f', 'colour']);
  t.is(usage.code, 125);
  t.regex(usage.stderr, /bad format of filter \(expected name=value\)/);
  const tmpl = await h.run(['ps', '--format', '{{.Names']);
  t.is(tmpl.code, 125);
  t.is(tmpl.stderr, 'skiff: template parsing error: template: :1: unclosed action\n');
});

it('ps --filter publish, on a container with a published port', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '-d', '--name', 'pub', '-p', '127.0.0.1::80', 'busybox', 'sleep', '300']);
  await h.ok(t, ['run', '-d', '--name', 'plain', 'busybox', 'sleep', '300']);
  t.is(await h.ok(t, ['ps', '-f', 'publish=80', '--format', '{{.Names}}']), 'pub\n');
  t.is(await h.ok(t, ['ps', '-f', 'publish=80/tcp', '-f', 'publish=81', '--format', '{{.Names}}']), 'pub\n');
  t.is(await h.ok(t, ['ps', '-f', 'publish=80/udp', '--format', '{{.Names}}']), '');
  t.is(await h.ok(t, ['ps', '-f', 'network=bridge', '--format', '{{.Names}}']), 'plain\npub\n');
});

it('images --filter (dangling, reference glob, label, before/since) and --format; history --format', async (t) => {
  const h = await harness(t, ['busybox', 'busybox-layered']);
  await h.ok(t, ['run', '--name', 'src', '--network', 'none', 'busybox', 'true']);
  await h.ok(t, ['commit', '-c', 'LABEL team=infra', '-c', 'EXPOSE 5000', 'src', 'example/app:v1']);
  await h.ok(t, ['tag', 'example/app:v1', 'example/app:v2']);
  // An untagged image: commit, then take its only name away by tagging another image with it.
  await h.ok(t, ['commit', 'src', 'example/old:v1']);
  await h.ok(t, ['tag', 'busybox', 'example/old:v1']);

  const images = async (...args: string[]) => lines(await h.ok(t, ['images', ...args, '--format', '{{.Repository}}:{{.Tag}}'])).filter(Boolean).sort();
  t.deepEqual(await images('-f', 'reference=example/*'), ['example/app:v1', 'example/app:v2', 'example/old:v1']);
  t.deepEqual(await images('-f', 'reference=*/app:v?'), ['example/app:v1', 'example/app:v2']);
  t.deepEqual(await images('-f', 'reference=busy*'), ['busybox:latest']);
  t.deepEqual(await images('-f', 'reference=*'), ['busybox:latest', 'layered:latest'], '* does not cross /');
  t.deepEqual(await images('-f', 'dangling=true'), ['<none>:<none>']);
  t.notDeepEqual(await images('-f', 'dangling=false'), []);
  t.false((await images('-f', 'dangling=false')).includes('<none>:<none>'));
  t.deepEqual(await images('-f', 'label=team=infra'), ['example/app:v1', 'example/app:v2']);
  t.deepEqual(await images('-f', 'label=team', '-f', 'reference=*/*:v2'), ['example/app:v2']);
  // example/old:v1 now names busybox itself, which is not newer than busybox.
  t.deepEqual(await images('-f', 'since=busybox', '-f', 'reference=example/*'), ['example/app:v1', 'example/app:v2']);
  t.deepEqual(await images('-f', 'before=example/app:v1', '-f', 'reference=example/*'), ['example/old:v1']);
  const bad = await h.run(['images', '-f', 'dangling=maybe']);
  t.is(bad.code, 1);
  t.is(bad.stderr, "skiff: invalid filter 'dangling=maybe'\n");
  t.is((await h.run(['images', '-f', 'before=nosuch'])).stderr, 'skiff: No such image: nosuch\n');

  const row = JSON.parse(lines(await h.ok(t, ['images', '--format', 'json', 'busybox']))[0]) as Record<string, string>;
  t.like(row, { Repository: 'busybox', Tag: 'latest', Size: '1.98MB', Digest: '<none>' });
  t.regex(row.ID, /^[0-9a-f]{12}$/);
  t.deepEqual(lines(await h.ok(t, ['images', '--format', 'table {{.Repository}}\\t{{.Tag}}', 'busybox'])), ['REPOSITORY   TAG', 'busybox      latest']);

  const history = lines(await h.ok(t, ['history', '--format', '{{.ID}}|{{.Size}}|{{.CreatedBy}}', 'layered']));
  t.true(history.length >= 2);
  t.regex(history[0], /^[0-9a-f]{12}\|/);
  t.regex(history[1], /^<missing>\|/);
  t.deepEqual(lines(await h.ok(t, ['history', '--format', 'table {{.ID}}', 'busybox'])).slice(0, 1), ['IMAGE']);
  t.true(lines(await h.ok(t, ['history', '--format', 'json', 'busybox'])).every((l) => 'CreatedBy' in JSON.parse(l)));

  // inspect -f prints a set as Go does: map[5000/tcp:{}] (issue 13, item 9).
  t.is(await h.ok(t, ['inspect', '-f', '{{.Config.ExposedPorts}}', 'example/app:v1']), 'map[5000/tcp:{}]\n');
  t.is(await h.ok(t, ['inspect', '-f', '{{json .Config.ExposedPorts}}', 'example/app:v1']), '{"5000/tcp":{}}\n');
  await h.ok(t, ['create', '--network', 'none', '--name', 'exp', '--expose', '53/udp', 'example/app:v1']);
  t.is(await h.ok(t, ['inspect', '-f', '{{.Config.ExposedPorts}}', 'exp']), 'map[5000/tcp:{} 53/udp:{}]\n');
});

it('network ls --format json and table', async (t) => {
  const h = await harness(t, []);
  const rows = lines(await h.ok(t, ['network', 'ls', '--format', 'json'])).map((l) => JSON.parse(l) as Record<string, string>);
  t.deepEqual(rows.map((r) => [r.Name, r.Driver, r.Scope]), [['bridge', 'bridge', 'local'], ['host', 'host', 'local'], ['none', 'null', 'local']]);
  t.deepEqual(lines(await h.ok(t, ['network', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}'])),
    ['NAME      DRIVER', 'bridge    bridge', 'host      host', 'none      null']);
});

it('--version, -v and version print the version; --help off a terminal keeps words whole', async (t) => {
  const h = await harness(t, []);
  const { version } = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(fixtures, '..', '..', 'package.json'), 'utf8'))) as { version: string };
  t.is(await h.ok(t, ['--version']), `skiff version ${version}\n`);
  t.is(await h.ok(t, ['-v']), `skiff version ${version}\n`);
  const v = await h.ok(t, ['version']);
  t.regex(v, new RegExp(`^Client:\\n Version:\\s+${version.replace(/\./g, '\\.')}\\n`));
  t.regex(v, /\n OS\/Arch:\s+linux\/(amd64|arm64)\n/);
  t.is(await h.ok(t, ['version', '--format', '{{.Client.Version}}']), `${version}\n`);

  // Output into a pipe: descriptions are not wrapped at all, so no word is cut.
  const top = await h.ok(t, ['--help']);
  t.true(top.includes('Block until one or more containers stop, then print their exit codes'), top);
  t.regex(top, /-v, --version\s+Print version information and quit/);
  const ps = await h.ok(t, ['ps', '--help']);
  t.true(ps.includes('Filter output based on conditions provided (id, name, label, exited, status, ancestor, before, since, network, publish, expose)'), ps);
  const run = await h.ok(t, ['run', '--help']);
  t.true(run.includes('without it an address is leased at each start'), run); // was cut to "l" / "eased"
  t.true(run.includes('[IP:][HOSTPORT:]CPORT[/udp], ranges allowed'), run);
  t.notRegex(run, /^ {10,}\S/m, 'no continuation lines');
});
