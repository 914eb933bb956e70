// Differences from Docker found in a side-by-side run (issue 13, items 1-7):
// what a user sees inside a container and in `logs`. Needs root.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cli, fixtures, harness, it, mountsUnder, type Harness, type Result } from './_harness.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `skiff ARGS` with a real terminal as its stdio (util-linux `script`); \r removed from the output. */
function underPty(h: Harness, args: string[], input = ''): Promise<Result> {
  const cmd = [process.execPath, cli, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    const child = execFile('script', ['-qefc', cmd, '/dev/null'], { env: h.env(), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: stdout.replace(/\r|\0|\^@|\^D/g, ''), stderr });
    });
    child.stdin!.end(input);
  });
}

it('capabilities: inheritable is empty for run and exec; permitted, effective and bounding are Docker\'s a80425fb', async (t) => {
  const h = await harness(t);
  const sets = (text: string) => Object.fromEntries([...text.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)].map((m) => [m[1], m[2]]));
  const want = { CapInh: '0000000000000000', CapPrm: '00000000a80425fb', CapEff: '00000000a80425fb', CapBnd: '00000000a80425fb', CapAmb: '0000000000000000' };
  t.deepEqual(sets(await h.ok(t, ['run', '--rm', '--network', 'none', 'busybox', 'grep', '^Cap', '/proc/self/status'])), want);
  const id = (await h.ok(t, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
  t.deepEqual(sets(await h.ok(t, ['exec', id, 'grep', '^Cap', '/proc/self/status'])), want);
  // Control: --cap-add still reaches permitted/effective (only inheritable is empty).
  const added = sets(await h.ok(t, ['run', '--rm', '--network', 'none', '--cap-add', 'SYS_ADMIN', 'busybox', 'grep', '^Cap', '/proc/self/status']));
  t.is(added.CapInh, '0000000000000000');
  t.is(BigInt(`0x${added.CapEff}`) & (1n << 21n), 1n << 21n, 'CAP_SYS_ADMIN is effective');
});

it('--userns-remap prints nothing extra and works under a SKIFF_ROOT of mode 0700, and under a parent of mode 0700', async (t) => {
  const h = await harness(t);
  chmodSync(h.root, 0o700); // what mktemp -d or umask 077 gives
  const r = await h.run(['run', '--rm', '--userns-remap', '--network', 'none', 'busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '', 'no stray "execve:2" or other noise on stderr');
  t.regex(r.stdout, /^0\n\s+0\s+100000\s+65536/);
  t.is(statSync(h.root).mode & 0o777, 0o700, 'skiff builds the root as host root: nothing had to be opened up');
  // A root below a directory others cannot search.
  const parent = mkdtempSync('/tmp/skiff-test-locked-');
  t.teardown(() => {
    for (const m of mountsUnder(parent).reverse()) execFile('umount', ['-l', m]);
    rmSync(parent, { recursive: true, force: true });
  });
  const root = join(parent, 'root');
  mkdirSync(root);
  const env = { SKIFF_ROOT: root };
  const load = await h.run(['load', '-q', '-i', join(fixtures, 'busybox.tar')], { env });
  t.is(load.code, 0, load.stderr);
  const locked = await h.run(['run', '--rm', '--userns-remap', '--network', 'none', 'busybox', 'id', '-u'], { env });
  t.is(locked.code, 0, locked.stderr);
  t.is(locked.stdout, '0\n');
  t.is(locked.stderr, '');
  t.deepEqual(mountsUnder(parent), [], 'nothing stays mounted');
});

it('/etc/mtab links to /proc/mounts (df and mount read it); /dev/core exists only if the host has /proc/kcore', async (t) => {
  const h = await harness(t);
  const out = await h.ok(t, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c',
    'readlink /etc/mtab; grep -c " /proc " /etc/mtab; df / >/dev/null && echo df-ok; if [ -e /dev/core ] || [ -L /dev/core ]; then echo core; else echo no-core; fi']);
  const [link, procLines, df, core] = out.trim().split('\n');
  t.is(link, '/proc/mounts');
  t.true(Number(procLines) >= 1);
  t.is(df, 'df-ok');
  t.is(core, existsSync('/proc/kcore') ? 'core' : 'no-core', `host has /proc/kcore: ${existsSync('/proc/kcore')}`);
  // The link stays in the container's layer; a second start must cope with finding it.
  t.is(await h.ok(t, ['run', '--name', 'm', '--network', 'none', 'busybox', 'readlink', '/etc/mtab']), '/proc/mounts\n');
  t.is(await h.ok(t, ['start', '-a', 'm']), '/proc/mounts\n');
  t.is(await h.ok(t, ['logs', 'm']), '/proc/mounts\n/proc/mounts\n', 'both runs logged');
});

it('--network none: /etc/hosts has only the localhost lines', async (t) => {
  const h = await harness(t);
  const hosts = await h.ok(t, ['run', '--rm', '--network', 'none', '-h', 'box1', 'busybox', 'cat', '/etc/hosts']);
  t.deepEqual(hosts.trim().split('\n'), [
    '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters',
  ]);
  t.notRegex(hosts, /box1/);
});

it('run -it: the terminal is /dev/pts/0 of the container\'s own devpts; /dev/console is that pty, as in Docker', async (t) => {
  const h = await harness(t);
  const r = await underPty(h, ['run', '--rm', '-it', '--network', 'none', 'busybox', 'sh', '-c',
    'tty; readlink /proc/self/fd/0; stat -c "%t:%T %a" /dev/console /dev/pts/0; ls -1 /dev/pts; echo via-name > $(tty) && echo reopened; exit 3']);
  t.is(r.code, 3, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.deepEqual(lines, ['/dev/pts/0', '/dev/pts/0', '88:0 620', '88:0 620', '0', 'ptmx', 'via-name', 'reopened']);
  t.deepEqual(mountsUnder(h.root).filter((m) => m.endsWith('/devpts')), [], 'the host-side devpts mount is gone');
  // -t in the background too: the log shows the terminal's name.
  const id = (await h.ok(t, ['run', '-dt', '--network', 'none', 'busybox', 'tty'])).trim();
  await h.ok(t, ['wait', id]);
  t.is((await h.ok(t, ['logs', id])).replace(/\r/g, '').trim(), '/dev/pts/0');
});

it('exec -it: tty names the container\'s /dev/pts/N, ps shows it, a non-root user owns it and can reopen it', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '-d', '--name', 'web', '--network', 'none', 'busybox', 'sleep', '60']);
  const r = await underPty(h, ['exec', '-it', 'web', 'sh', '-c', 'tty; readlink /proc/self/fd/1; ps -o tty,comm | grep ps']);
  t.is(r.code, 0, r.stderr);
  const [name, link, ps] = r.stdout.trim().split('\n');
  t.regex(name, /^\/dev\/pts\/\d+$/);
  t.is(link, name);
  t.regex(ps, /^136,\d+\s+ps$/, 'ps sees a controlling terminal (busybox prints major,minor)');
  const u = await underPty(h, ['exec', '-it', '-u', '1000', 'web', 'sh', '-c', 'stat -c %u $(tty); echo again > $(tty)']);
  t.is(u.code, 0, u.stderr);
  t.deepEqual(u.stdout.trim().split('\n'), ['1000', 'again']);
  // Control: without -t there is no terminal at all.
  const plain = await h.run(['exec', 'web', 'tty']);
  t.is(plain.stdout.trim(), 'not a tty');
});

it('a foreground run writes the json-file log too: logs NAME shows stdout and stderr afterwards', async (t) => {
  const h = await harness(t);
  const r = await h.run(['run', '--name', 'fg', '--network', 'none', 'busybox', 'sh', '-c', 'echo out1; echo err1 >&2; echo out2']);
  t.is(r.code, 0);
  t.is(r.stdout, 'out1\nout2\n', 'the terminal still gets the output');
  t.is(r.stderr, 'err1\n');
  const logs = await h.run(['logs', 'fg']);
  t.is(logs.stdout, 'out1\nout2\n');
  t.is(logs.stderr, 'err1\n');
  const id = (await h.ok(t, ['inspect', '-f', '{{.Id}}', 'fg'])).trim();
  const records = readFileSync(join(h.root, 'containers', id, `${id}-json.log`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stream: string; log: string });
  t.deepEqual(records.map((x) => `${x.stream}:${x.log}`).sort(), ['stderr:err1\n', 'stdout:out1\n', 'stdout:out2\n']);
  // With -t as well.
  const tty = await underPty(h, ['run', '--name', 'fgt', '-t', '--network', 'none', 'busybox', 'echo', 'hello-tty']);
  t.is(tty.code, 0, tty.stderr);
  t.is((await h.ok(t, ['logs', 'fgt'])).replace(/\r/g, ''), 'hello-tty\n');
  // stdin still reaches a foreground -i command, and its output is logged.
  t.is(await h.ok(t, ['run', '-i', '--name', 'fgi', '--network', 'none', 'busybox', 'cat'], { input: 'piped\n' }), 'piped\n');
  t.is(await h.ok(t, ['logs', 'fgi']), 'piped\n');
});
