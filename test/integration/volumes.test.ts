// Named volumes: -v NAME:/path shares data between containers, :ro refuses
// writes, a new volume gets the image's content, rm is refused while a
// container uses it, and `skiff volume ls|inspect|rm|prune` answer as Docker's do.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, harness, it, runProcess } from './_harness.js';

const NONE = ['--network', 'none'];

it('data written through one container is read by another; :ro refuses writes', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '--rm', ...NONE, '-v', 'data:/d', 'busybox', 'sh', '-c', 'echo kept > /d/f']);
  t.is(await h.ok(t, ['run', '--rm', ...NONE, '-v', 'data:/d', 'busybox', 'cat', '/d/f']), 'kept\n');
  t.is(readFileSync(join(h.root, 'volumes', 'data', '_data', 'f'), 'utf8'), 'kept\n', 'the content lives under $SKIFF_ROOT/volumes/NAME/_data');
  const ro = await h.run(['run', '--rm', ...NONE, '-v', 'data:/d:ro', 'busybox', 'sh', '-c', 'cat /d/f; echo no > /d/g']);
  t.not(ro.code, 0);
  t.is(ro.stdout, 'kept\n');
  t.regex(ro.stderr, /Read-only file system/);
  t.false(existsSync(join(h.root, 'volumes', 'data', '_data', 'g')));
  t.is(await h.ok(t, ['run', '--rm', ...NONE, '--userns-remap', '-v', 'remapped:/d', 'busybox', 'sh', '-c', 'echo mapped > /d/f && cat /d/f']), 'mapped\n',
    'under --userns-remap a new volume belongs to the container\'s root');
});

it('copy-up: a new volume mounted on /etc gets the image\'s /etc; a volume with content keeps it', async (t) => {
  const h = await harness(t);
  t.regex(await h.ok(t, ['run', '--rm', ...NONE, '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/passwd']), /^root:/);
  t.regex(readFileSync(join(h.root, 'volumes', 'etcvol', '_data', 'passwd'), 'utf8'), /^root:/);
  await h.ok(t, ['run', '--rm', ...NONE, '-v', 'mine:/etc', 'busybox', 'sh', '-c', 'rm -f /etc/passwd; echo own > /etc/own']);
  const again = await h.ok(t, ['run', '--rm', ...NONE, '-v', 'mine:/etc', 'busybox', 'ls', '/etc']);
  t.regex(again, /own/);
  t.notRegex(again, /passwd/, 'no second copy-up into a volume that has content');
});

it('rm of a volume a container uses is refused with Docker\'s wording, even stopped and with -f; allowed once the container is gone', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', ...NONE, '--name', 'user', '-v', 'busy:/d', 'busybox', 'true']);
  const id = (await h.ok(t, ['inspect', '-f', '{{.Id}}', 'user'])).trim();
  for (const args of [['volume', 'rm', 'busy'], ['volume', 'rm', '-f', 'busy']]) {
    const r = await h.run(args);
    t.is(r.code, 1);
    t.is(r.stderr, `skiff: remove busy: volume is in use - [${id}]\n`);
  }
  const mounts = JSON.parse(await h.ok(t, ['inspect', '-f', '{{json .Mounts}}', 'user'])) as unknown[];
  t.deepEqual(mounts, [{
    Type: 'volume', Name: 'busy', Source: join(h.root, 'volumes', 'busy', '_data'), Destination: '/d', Driver: 'local', Mode: '', RW: true, Propagation: '',
  }]);
  await h.ok(t, ['rm', '-v', 'user']);
  t.is(await h.ok(t, ['volume', 'ls', '-q']), 'busy\n', 'rm -v keeps named volumes, as Docker does');
  t.is(await h.ok(t, ['volume', 'rm', 'busy']), 'busy\n');
  t.false(existsSync(join(h.root, 'volumes', 'busy')));
  const gone = await h.run(['volume', 'rm', 'busy']);
  t.is(gone.code, 1);
  t.is(gone.stderr, 'skiff: get busy: no such volume\n');
});

it('volume create, ls (-q, --format, --filter), inspect and prune', async (t) => {
  const h = await harness(t);
  t.is(await h.ok(t, ['volume', 'create', '--label', 'team=a', 'alpha']), 'alpha\n');
  t.is(await h.ok(t, ['volume', 'create', 'alpha']), 'alpha\n', 'create is idempotent');
  const anon = (await h.ok(t, ['volume', 'create'])).trim();
  t.regex(anon, /^[0-9a-f]{64}$/);
  await h.ok(t, ['create', ...NONE, '--name', 'holder', '-v', 'beta:/b', 'busybox', 'true']);
  const sorted = [anon, 'alpha', 'beta'].sort();
  t.is(await h.ok(t, ['volume', 'ls']), `DRIVER    VOLUME NAME\n${sorted.map((n) => `local     ${n}\n`).join('')}`);
  t.is(await h.ok(t, ['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Labels}}', '--filter', 'label=team=a']), 'alpha local team=a\n');
  t.is(await h.ok(t, ['volume', 'ls', '-q', '--filter', 'name=bet']), 'beta\n');
  t.is(await h.ok(t, ['volume', 'ls', '-q', '--filter', 'dangling=false']), 'beta\n');
  const bad = await h.run(['volume', 'ls', '--filter', 'colour=red']);
  t.is(bad.code, 1);
  const [v] = JSON.parse(await h.ok(t, ['volume', 'inspect', 'alpha'])) as Array<Record<string, unknown>>;
  t.like(v, { Name: 'alpha', Driver: 'local', Mountpoint: join(h.root, 'volumes', 'alpha', '_data'), Labels: { team: 'a' }, Options: {}, Scope: 'local' });
  t.regex(String(v.CreatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.is(await h.ok(t, ['volume', 'inspect', '-f', '{{.Mountpoint}}', 'beta']), `${join(h.root, 'volumes', 'beta', '_data')}\n`);
  const missing = await h.run(['volume', 'inspect', 'nope']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'skiff: get nope: no such volume\n');
  const pruned = await h.ok(t, ['volume', 'prune', '-f']);
  t.is(pruned, `Deleted Volumes:\n${[anon, 'alpha'].sort().join('\n')}\n\nTotal reclaimed space: 0B\n`);
  t.deepEqual(readdirSync(join(h.root, 'volumes')), ['beta'], 'the volume a (created) container uses stays');
});

it('anonymous volumes: -v /path gets a fresh volume with the image\'s content; rm keeps it, rm -v and --rm remove it; named ones stay', async (t) => {
  const h = await harness(t);
  const volumes = async () => (await h.ok(t, ['volume', 'ls', '-q'])).trim().split('\n').filter(Boolean);
  await h.ok(t, ['create', ...NONE, '--name', 'a', '-v', '/etc', '-v', 'named:/n', 'busybox', 'sh', '-c', 'cat /etc/passwd; echo x > /etc/new']);
  const [anon] = (await volumes()).filter((v) => v !== 'named');
  t.regex(anon, /^[0-9a-f]{64}$/, 'a random 64-hex name, as Docker gives');
  t.regex(await h.ok(t, ['inspect', '-f', '{{json .Mounts}}', 'a']), new RegExp(`"Name":"${anon}".*"Destination":"/etc"`));
  t.is((await h.ok(t, ['volume', 'inspect', '-f', '{{json .Labels}}', anon])).trim(), '{"com.docker.volume.anonymous":""}');
  t.regex(await h.ok(t, ['start', '-a', 'a']), /^root:/m, 'copy-up of the image\'s /etc into the new volume');
  t.regex(await h.ok(t, ['start', '-a', 'a']), /^root:/m, 'the second start mounts the same volume');
  t.true(existsSync(join(h.root, 'volumes', anon, '_data', 'new')));
  await h.ok(t, ['create', ...NONE, '--name', 'b', '-v', '/data', 'busybox', 'true']);
  const [anonB] = (await volumes()).filter((v) => v !== 'named' && v !== anon);
  await h.ok(t, ['rm', 'b']);
  t.true((await volumes()).includes(anonB), 'rm without -v keeps it, as Docker does');
  await h.ok(t, ['rm', '-v', 'a']);
  t.deepEqual((await volumes()).sort(), [anonB, 'named'].sort(), 'rm -v removed the anonymous volume and kept the named one');
  await h.ok(t, ['run', '--rm', ...NONE, '-v', '/scratch', 'busybox', 'true']);
  t.deepEqual((await volumes()).sort(), [anonB, 'named'].sort(), '--rm removed its anonymous volume');
});

it('-v ./dir and ../dir bind paths relative to the working directory, as Docker\'s CLI does', async (t) => {
  const h = await harness(t);
  const dir = join(h.root, 'project', 'data');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'x'), 'hello\n');
  const inDir = (cwd: string, args: string[]) => runProcess(cli, args, { cwd, env: h.env() });
  const a = await inDir(join(h.root, 'project'), ['run', '--rm', '--network', 'none', '-v', './data:/data', 'busybox', 'cat', '/data/x']);
  t.is(a.stdout, 'hello\n', a.stderr);
  const b = await inDir(dir, ['run', '--rm', '--network', 'none', '-v', '../data:/data:ro', 'busybox', 'sh', '-c', 'cat /data/x; touch /data/y']);
  t.is(b.stdout, 'hello\n', b.stderr);
  t.is(b.code, 1, 'read-only');
  const id = (await h.ok(t, ['ps', '-aq'])).trim();
  t.is(id, '', 'nothing left');
});

it('bad volume specifications: exit 125, one line, nothing made', async (t) => {
  const h = await harness(t);
  const cases: Array<[string[], RegExp]> = [
    [['run', '--rm', ...NONE, '-v', 'bad$name:/d', 'busybox', 'true'], /^skiff: create bad\$name: "bad\$name" includes invalid characters for a local volume name/],
    [['run', '--rm', ...NONE, '-v', 'x:/d', 'busybox', 'true'], /includes invalid characters/],
    [['create', ...NONE, '-v', 'ok:relative', 'busybox', 'true'], /mount path must be absolute/],
    [['run', '--rm', ...NONE, '-v', 'ok:/d:rx', 'busybox', 'true'], /invalid mode: rx/],
  ];
  for (const [args, re] of cases) {
    const r = await h.run(args);
    t.is(r.code, 125, args.join(' '));
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const badCreate = await h.run(['volume', 'create', '-bad']);
  t.not(badCreate.code, 0);
  const badName = await h.run(['volume', 'create', 'a/b']);
  t.is(badName.code, 125);
  t.is(badName.stderr.trim().split('\n').length, 1);
  t.is(await h.ok(t, ['ps', '-aq']), '');
  t.false(existsSync(join(h.root, 'volumes')) && readdirSync(join(h.root, 'volumes')).length > 0, 'no volume was made');
});
