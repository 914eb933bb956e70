// Hostile and out-of-range input (issue 14): every number that reaches C or
// the kernel is checked first, so nothing wraps around (uid 4294967296 was
// uid 0); each refusal is one line, exit 125, and leaves nothing behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cli, harness, it, mountsUnder } from './_harness.js';

const net = ['--network', 'none'];
const long = 'a'.repeat(5000);
const cpus = availableParallelism();

// [what, args, message]: each must fail with exit 125 and one line.
const refused: Array<[string, string[], RegExp]> = [
  ['-u 4294967296 (wraps to root in C)', ['run', '--rm', ...net, '-u', '4294967296', 'busybox', 'id'], /invalid user "4294967296": uids and gids must be in range 0-2147483647/],
  ['-u 0:4294967296', ['run', '--rm', ...net, '-u', '0:4294967296', 'busybox', 'id'], /invalid group "4294967296"/],
  ['-u 4294967296:4294967296', ['run', '--rm', ...net, '-u', '4294967296:4294967296', 'busybox', 'id'], /uids and gids must be in range/],
  ['-u 99999999999999', ['run', '--rm', ...net, '-u', '99999999999999', 'busybox', 'id'], /invalid user "99999999999999"/],
  ['-u 2147483648 (one past Docker\'s limit)', ['run', '--rm', ...net, '-u', '2147483648', 'busybox', 'id'], /uids and gids must be in range/],
  ['create -u 4294967296', ['create', ...net, '-u', '4294967296', 'busybox', 'id'], /uids and gids must be in range/],
  ['--cpus above the host CPUs', ['run', '--rm', ...net, '--cpus', '1000', 'busybox', 'true'], new RegExp(`Range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`)],
  ['--cpus 0.001', ['run', '--rm', ...net, '--cpus', '0.001', 'busybox', 'true'], /Range of CPUs is from 0.01/],
  ['-m -5m', ['run', '--rm', ...net, '-m', '-5m', 'busybox', 'true'], /invalid size: '-5m'/],
  ['--memory-swap -5', ['run', '--rm', ...net, '-m', '64m', '--memory-swap', '-5', 'busybox', 'true'], /invalid size: '-5'/],
  ['--pids-limit beyond the kernel\'s PID_MAX_LIMIT', ['run', '--rm', ...net, '--pids-limit', '9007199254740991', 'busybox', 'true'], /invalid --pids-limit 9007199254740991/],
  ['--pids-limit 1.5', ['run', '--rm', ...net, '--pids-limit', '1.5', 'busybox', 'true'], /invalid --pids-limit 1.5/],
  ['--cpu-shares 1.5', ['run', '--rm', ...net, '--cpu-shares', '1.5', 'busybox', 'true'], /invalid cpuShares/],
  ['--tmpfs size=abc', ['run', '--rm', ...net, '--tmpfs', '/x:size=abc', 'busybox', 'true'], /invalid tmpfs mount: '\/x:size=abc': bad value for size/],
  ['--tmpfs uid=4294967296', ['run', '--rm', ...net, '--tmpfs', '/x:uid=4294967296', 'busybox', 'true'], /bad value for uid/],
  ['-p 99999:80', ['run', '--rm', '-p', '99999:80', 'busybox', 'true'], /invalid hostPort: 99999/],
  ['--ip 10.0.0.300', ['run', '--rm', '--ip', '10.0.0.300', 'busybox', 'true'], /invalid IPv4 address: 10.0.0.300/],
  ['-w relative', ['run', '--rm', ...net, '-w', 'relative', 'busybox', 'pwd'], /the working directory 'relative' is invalid, it needs to be an absolute path/],
  ['a -w longer than the kernel takes', ['run', '--rm', ...net, '-w', `/${'b'.repeat(300)}`, 'busybox', 'pwd'], /failed to create workdir \/b{79}…: path too long/],
  ['-e ""', ['run', '--rm', ...net, '-e', '', 'busybox', 'true'], /invalid environment variable: ""/],
  ['--name -x', ['run', '--rm', ...net, '--name', '-x', 'busybox', 'true'], /Invalid container name \(-x\)/],
  ['a 5000-character --name', ['run', '--rm', ...net, '--name', long, 'busybox', 'true'], /Invalid container name \(a{20}…\): at most 255 characters/],
];

it('out-of-range and malformed numbers: one line, exit 125, nothing left (table)', async (t) => {
  const h = await harness(t);
  for (const [what, args, message] of refused) {
    const r = await h.run(args);
    t.is(r.code, 125, `${what}: exit code (stdout ${r.stdout.trim()}, stderr ${r.stderr.trim()})`);
    t.regex(r.stderr, message, what);
    t.is(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.false(r.stderr.includes(h.root), `${what}: no host path`);
    t.false(r.stdout.includes('uid=0'), `${what}: nothing ran as root`);
  }
  t.deepEqual(h.containerIds(), [], 'no container state left');
  t.deepEqual(mountsUnder(h.root), [], 'no mount left');
  // The largest valid id still works and is what the process gets.
  t.is((await h.ok(t, ['run', '--rm', ...net, '-u', '2147483647:2147483647', 'busybox', 'id', '-u'])).trim(), '2147483647');
});

it('exec, kill, USER, STOPSIGNAL and --chown refuse out-of-range ids and signals', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '-d', ...net, '--name', 'c', 'busybox', 'sleep', '60']);
  const exec = await h.run(['exec', '-u', '4294967296', 'c', 'id']);
  t.is(exec.code, 125);
  t.regex(exec.stderr, /invalid user "4294967296": uids and gids must be in range/);
  t.false(exec.stdout.includes('uid=0'));
  for (const sig of ['99999', '0', '65', '4294967305']) {
    const k = await h.run(['kill', '-s', sig, 'c']);
    t.not(k.code, 0, `kill -s ${sig}`);
    t.regex(k.stderr, new RegExp(`invalid signal: ${sig}`));
  }
  t.regex(await h.ok(t, ['inspect', '-f', '{{.State.Running}}', 'c']), /true/, 'the bad signals did nothing');
  const ctx = mkdtempSync(join(h.root, 'ctx-'));
  for (const [line, message] of [
    ['USER 4294967296', /Dockerfile:2: invalid user "4294967296"/],
    ['USER 0:4294967296', /Dockerfile:2: invalid group "4294967296"/],
    ['STOPSIGNAL 99', /Dockerfile:2: invalid signal: 99/],
    ['COPY --chown=4294967296 Dockerfile /x', /invalid --chown id "4294967296"/],
  ] as const) {
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\n${line}\n`);
    const b = await h.run(['build', '-q', ctx]);
    t.is(b.code, 1, line); // docker build's exit code for a failed build
    t.regex(b.stderr, message, line);
  }
  await h.ok(t, ['rm', '-f', 'c']);
});

it('workdir is resolved inside the rootfs: links into /proc or /sys are refused for run and exec', async (t) => {
  const h = await harness(t);
  const ctx = mkdtempSync(join(h.root, 'ctx-'));
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN ln -s /proc/self/fd /fdl && ln -s /sys/kernel /sk && ln -s fdl /rel && ln -s /etc /etcl\n');
  await h.ok(t, ['build', '-q', '-t', 'fdl', ctx]);
  for (const wd of ['/fdl', '/sk', '/rel', '/fdl/..', '/proc/1', '/etc/../sys']) {
    const r = await h.run(['run', '--rm', ...net, '-w', wd, 'fdl', 'ls', '-l', '.']);
    t.is(r.code, 125, `run -w ${wd}: ${r.stdout}`);
    t.regex(r.stderr, new RegExp(`invalid workdir ${wd.replace(/\./g, '\\.')}: must not be inside /proc or /sys`));
  }
  // A link elsewhere in the rootfs is followed inside it.
  t.is((await h.ok(t, ['run', '--rm', ...net, '-w', '/etcl', 'fdl', 'pwd'])).trim(), '/etc');
  await h.ok(t, ['run', '-d', ...net, '--name', 'c', 'fdl', 'sleep', '60']);
  for (const wd of ['/fdl', '/sk', '/proc/self']) {
    const r = await h.run(['exec', '-w', wd, 'c', 'ls', '-l', '.']);
    t.is(r.code, 125, `exec -w ${wd}: ${r.stdout}`);
    t.regex(r.stderr, /must not be inside \/proc or \/sys/);
  }
  const rel = await h.run(['exec', '-w', 'relative', 'c', 'pwd']);
  t.is(rel.code, 125);
  t.regex(rel.stderr, /the working directory 'relative' is invalid, it needs to be an absolute path/);
  const file = await h.run(['exec', '-w', '/etc/passwd', 'c', 'pwd']);
  t.is(file.code, 126);
  t.regex(file.stderr, /^skiff: chdir to cwd \("\/etc\/passwd"\) failed: not a directory$/m, 'says why, not a bare errno');
  t.is((await h.ok(t, ['exec', '-w', '/etcl', 'c', 'pwd'])).trim(), '/etc');
  await h.ok(t, ['rm', '-f', 'c']);
});

it('--env-file belongs to skiff, not to Node: through the installed bin (its shebang), a missing file is a Docker-style error', async (t) => {
  const h = await harness(t);
  // Executed as a program, the way npm's bin link runs it: the shebang decides what Node parses.
  const bin = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cli, args, { env: h.env() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  const missing = await bin(['run', '--rm', ...net, '--env-file', '/nonexistent', 'busybox', 'true']);
  t.is(missing.code, 125);
  t.is(missing.stderr.trim(), 'skiff: open /nonexistent: no such file or directory');
  const file = join(h.root, 'env');
  writeFileSync(file, 'FROM_FILE=yes\nSKIFF_TRACE=1\n');
  const r = await bin(['run', '--rm', ...net, '--env-file', file, 'busybox', 'sh', '-c', 'echo $FROM_FILE']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'yes', 'the container gets the file');
  t.false(r.stderr.includes('skiff-trace'), 'skiff itself did not take SKIFF_TRACE from the file (Node 20 would have)');
});
