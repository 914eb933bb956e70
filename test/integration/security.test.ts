// Isolation, tested the way an attacker would try: each test makes a real
// attempt to break out that must fail, plus a control showing that the same
// attempt succeeds without the defence (so the test would catch a regression).
import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { fixtures, harness, it, repo, type Harness } from './_harness.js';

/** The static syscall probe, built once per test into its root and mounted at /probe. */
function buildProbe(h: Harness): string {
  const dir = join(h.root, 'probe');
  mkdirSync(dir, { recursive: true });
  execFileSync('cc', ['-static', '-O2', '-o', join(dir, 'sysprobe'), join(repo, 'test', 'integration', 'probes', 'sysprobe.c')]);
  chmodSync(dir, 0o755);
  return `${dir}:/probe:ro`;
}

async function probe(t: ExecutionContext, h: Harness, flags: string[], names: string[]): Promise<Record<string, string>> {
  const out = await h.ok(t, ['run', '--rm', '-v', buildProbe(h), ...flags, 'busybox', 'sh', '-c', names.map((n) => `/probe/sysprobe ${n}`).join('; ')]);
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
}

it('the default capability sets are Docker\'s 14; ambient is empty; a non-root user has none', async (t) => {
  const h = await harness(t);
  const status = await h.ok(t, ['run', '--rm', 'busybox', 'grep', '^Cap', '/proc/self/status']);
  for (const set of ['CapPrm', 'CapEff', 'CapBnd']) t.regex(status, new RegExp(`${set}:\\s+00000000a80425fb`));
  t.regex(status, /CapInh:\s+0000000000000000/, 'inheritable is empty (CVE-2022-24769), as in Docker');
  t.regex(status, /CapAmb:\s+0000000000000000/);
  const user = await h.ok(t, ['run', '--rm', '-u', '1000', 'busybox', 'grep', '^Cap', '/proc/self/status']);
  t.regex(user, /CapEff:\s+0000000000000000/);
  t.regex(user, /CapPrm:\s+0000000000000000/);
  const dropped = await h.ok(t, ['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'CHOWN', 'busybox', 'grep', '^CapEff', '/proc/self/status']);
  t.regex(dropped, /CapEff:\s+0000000000000001/);
  const privileged = await h.ok(t, ['run', '--rm', '--privileged', 'busybox', 'grep', '^CapEff', '/proc/self/status']);
  t.notRegex(privileged, /a80425fb/, 'control: --privileged gets more than the default set');
  const bad = await h.run(['run', '--rm', '--cap-add', 'NOPE', 'busybox', 'true']);
  t.is(bad.code, 125);
  t.regex(bad.stderr, /invalid capability: NOPE/);
});

it('mount, unshare -U, swapoff -a, insmod and reboot -f fail inside; with the capability or no seccomp they work', async (t) => {
  const h = await harness(t);
  const denied = await h.run(['run', '--rm', 'busybox', 'sh', '-c',
    'mount -t tmpfs x /tmp && echo MOUNTED; unshare -U true && echo UNSHARED; touch /tmp/swap; swapoff /tmp/swap && echo SWAPOFF; echo garbage > /tmp/m.ko; insmod /tmp/m.ko && echo INSMOD; reboot -f; echo still-here']);
  t.notRegex(denied.stdout, /MOUNTED|UNSHARED|SWAPOFF|INSMOD/);
  t.regex(denied.stdout, /still-here/);
  t.regex(denied.stderr, /mount: permission denied|Operation not permitted/);
  t.regex(denied.stderr, /unshare\(0x10000000\): Operation not permitted/);
  t.regex(denied.stderr, /insmod: .*(Operation not permitted|not permitted)/i);
  t.regex(denied.stderr, /swapoff: \/tmp\/swap: Operation not permitted/);
  // Controls.
  t.regex(await h.ok(t, ['run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'sh', '-c', 'mount -t tmpfs x /tmp && echo MOUNTED']), /MOUNTED/);
  t.regex(await h.ok(t, ['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'sh', '-c', 'unshare -U true && echo UNSHARED']), /UNSHARED/);
  const swap = await h.run(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'touch /tmp/swap; swapoff /tmp/swap']);
  t.regex(swap.stderr, /swapoff: \/tmp\/swap: Invalid argument/, 'control: the kernel itself judged the (non-)swap file');
  const insmod = await h.run(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'echo garbage > /tmp/m.ko; insmod /tmp/m.ko']);
  t.notRegex(insmod.stderr, /Operation not permitted/, 'control: the kernel got to look at the (garbage) module');
  // reboot(2) from a child pid namespace ends that namespace's init: only the container goes down.
  const reboot = await h.run(['run', '--rm', '--cap-add', 'SYS_BOOT', 'busybox', 'sh', '-c', 'reboot -f; sleep 5; echo survived']);
  t.notRegex(reboot.stdout, /survived/);
});

it('seccomp refuses keyctl, add_key, bpf, perf_event_open, userfaultfd, setns, pivot_root, acct, open_by_handle_at, namespace clones', async (t) => {
  const h = await harness(t);
  const names = ['keyctl', 'add_key', 'bpf', 'perf_event_open', 'userfaultfd', 'setns', 'pivot_root', 'umount2', 'acct', 'open_by_handle_at', 'clone_newns', 'clone_plain'];
  const confined = await probe(t, h, [], names);
  for (const n of names.filter((x) => x !== 'clone_plain')) t.is(confined[n], 'errno=1', `${n} must fail with EPERM`);
  t.is(confined.clone_plain, 'ok', 'fork without namespace flags still works');
  const free = await probe(t, h, ['--security-opt', 'seccomp=unconfined'], ['keyctl', 'add_key']);
  t.is(free.keyctl, 'ok', 'control: keyctl works without the filter');
  t.is(free.add_key, 'ok');
});

it('--security-opt seccomp=PROFILE.json (Docker format) and no-new-privileges work', async (t) => {
  const h = await harness(t);
  const profile = join(h.root, 'profile.json');
  writeFileSync(profile, JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  }));
  const out = await probe(t, h, ['--security-opt', `seccomp=${profile}`], ['mkdir', 'keyctl']);
  t.is(out.mkdir, 'errno=1');
  t.is(out.keyctl, 'ok', 'the custom profile replaces the default one');
  t.is((await probe(t, h, [], ['mkdir'])).mkdir, 'ok', 'control: mkdir works under the default profile');
  t.regex(await h.ok(t, ['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+1/);
  t.regex(await h.ok(t, ['run', '--rm', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+0/);
  const missing = await h.run(['run', '--rm', '--security-opt', 'seccomp=/nonexistent.json', 'busybox', 'true']);
  t.is(missing.code, 125);
  t.regex(missing.stderr, /seccomp profile/);
});

it('/proc and /sys paths are masked or read-only; --privileged shows them', async (t) => {
  const h = await harness(t);
  const r = await h.run(['run', '--rm', 'busybox', 'sh', '-c',
    '(wc -c < /proc/kcore 2>/dev/null || echo 0); wc -c < /proc/keys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; ls /proc/acpi | wc -l; echo x > /proc/sys/kernel/domainname && echo SYSWRITE; echo h > /proc/sysrq-trigger && echo SYSRQ; touch /sys/kernel/x && echo SYS']);
  // /proc/kcore is absent on some hosts; where it exists, the mask (/dev/null) reads as 0 bytes.
  t.deepEqual(r.stdout.trim().split('\n'), ['0', '0', '0', '0', '0']);
  t.regex(r.stderr, /Read-only file system/);
  const control = await h.ok(t, ['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname && echo SYSWRITE']);
  t.not(control.split('\n')[0], '0', 'control: /sys/firmware has entries when not masked');
  t.regex(control, /SYSWRITE/, 'control: /proc/sys is writable with --privileged (domainname is per UTS namespace)');
});

it('mknod of a block device gives no access to it; --privileged does', async (t) => {
  const h = await harness(t);
  // b 7:0 is /dev/loop0: a block device the host itself may open here (this
  // sandbox refuses even the host's root access to the real disk).
  const cmd = 'mknod /tmp/disk b 7 0 && head -c 1 /tmp/disk > /dev/null && echo READ';
  const denied = await h.run(['run', '--rm', 'busybox', 'sh', '-c', cmd]);
  t.notRegex(denied.stdout, /READ/);
  t.regex(denied.stderr, /Operation not permitted/);
  t.regex(await h.ok(t, ['run', '--rm', '--privileged', 'busybox', 'sh', '-c', cmd]), /READ/, 'control: with --privileged the device opens');
  t.regex(await h.ok(t, ['run', '--rm', 'busybox', 'sh', '-c', 'mknod /tmp/n c 1 3 && echo hi > /tmp/n && echo NULL-OK']), /NULL-OK/, 'allowed devices still work');
});

it('--read-only, --tmpfs and -v (with :ro) behave as in Docker', async (t) => {
  const h = await harness(t);
  const host = join(h.root, 'vol');
  mkdirSync(host);
  writeFileSync(join(host, 'f'), 'from host\n');
  const r = await h.run(['run', '--rm', '--read-only', '--tmpfs', '/scratch', '-v', `${host}:/data`, '-v', `${host}:/ro:ro`, 'busybox', 'sh', '-c',
    'touch /x && echo ROOTFS-WRITABLE; touch /scratch/y && echo TMPFS-OK; cat /data/f; echo new > /data/g && echo VOL-OK; echo no > /ro/h && echo RO-WRITABLE']);
  t.deepEqual(r.stdout.trim().split('\n'), ['TMPFS-OK', 'from host', 'VOL-OK']);
  t.is(readFileSync(join(host, 'g'), 'utf8'), 'new\n');
  // ./rel and ../rel are the working directory's (volumes.test.ts); any other relative source is a volume name.
  const bad = await h.run(['run', '--rm', '-v', 'rel/x:/data', 'busybox', 'true']);
  t.is(bad.code, 125);
  t.regex(bad.stderr, /invalid characters for a local volume name.*use absolute path/);
});

/** busybox plus a layer with /data -> /etc, as a docker-archive. */
async function hostileImage(dir: string): Promise<string> {
  const base = join(dir, 'base');
  mkdirSync(base);
  execFileSync('tar', ['-xf', join(fixtures, 'busybox.tar'), '-C', base]);
  const manifest = JSON.parse(readFileSync(join(base, 'manifest.json'), 'utf8'))[0];
  const config = JSON.parse(readFileSync(join(base, manifest.Config), 'utf8'));
  const layer: Buffer = await new Promise((resolve) => {
    const pack = tar.pack();
    const parts: Buffer[] = [];
    pack.on('data', (d) => parts.push(d as Buffer));
    pack.on('end', () => resolve(Buffer.concat(parts)));
    pack.entry({ name: 'data', type: 'symlink', linkname: '/etc' });
    pack.finalize();
  });
  const layerHex = createHash('sha256').update(layer).digest('hex');
  config.rootfs.diff_ids.push(`sha256:${layerHex}`);
  config.history = [...(config.history ?? []), { created_by: 'ln -s /etc /data' }];
  const configBytes = Buffer.from(JSON.stringify(config));
  const configName = `${createHash('sha256').update(configBytes).digest('hex')}.json`;
  mkdirSync(join(base, layerHex));
  writeFileSync(join(base, layerHex, 'layer.tar'), layer);
  writeFileSync(join(base, configName), configBytes);
  writeFileSync(join(base, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: ['hostile:latest'], Layers: [...manifest.Layers, `${layerHex}/layer.tar`] }]));
  const out = join(dir, 'hostile.tar');
  execFileSync('tar', ['-cf', out, '-C', base, 'manifest.json', configName, ...manifest.Layers, `${layerHex}/layer.tar`]);
  return out;
}

it('a volume mounted through an image symlink to /etc stays inside the rootfs; the host /etc is untouched', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['load', '-i', await hostileImage(h.root)]);
  const before = execFileSync('sha256sum', ['/etc/hostname', '/etc/passwd']).toString();
  const host = join(h.root, 'x');
  mkdirSync(host);
  writeFileSync(join(host, 'marker'), 'mine\n');
  const out = await h.ok(t, ['run', '--rm', '-v', `${host}:/data`, 'hostile', 'sh', '-c', 'cat /etc/marker; readlink /data']);
  t.is(out, 'mine\n/etc\n', 'the mount landed on the container\'s /etc, as the kernel would resolve it inside');
  t.is(execFileSync('sha256sum', ['/etc/hostname', '/etc/passwd']).toString(), before);
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === '/etc'), 'nothing is mounted on the host\'s /etc');
});

it('only fds 0-2 reach the container; a -w into /proc/self/fd is refused', async (t) => {
  const h = await harness(t);
  const out = await h.ok(t, ['run', '--rm', 'busybox', 'sh', '-c', 'for f in /proc/self/fd/*; do echo "$f $(readlink $f)"; done']);
  const fds = out.trim().split('\n').map((l) => l.split(' ')[0].split('/').pop());
  // The shell's glob opens the directory itself as fd 3 while listing.
  t.deepEqual(fds.filter((f) => !['0', '1', '2', '3'].includes(f!)), []);
  t.notRegex(out, /\/work|skiff|\.so|node/);
  const fdWorkdir = await h.run(['run', '--rm', '-w', '/proc/self/fd/5', 'busybox', 'pwd']);
  t.is(fdWorkdir.code, 125);
  t.regex(fdWorkdir.stderr, /must not be inside \/proc/);
});

it('during exec no host binary can be opened for writing, and the host binaries are unchanged', async (t) => {
  const h = await harness(t);
  const files = [process.execPath, join(repo, 'native-bindings', 'build', 'libskiff.so'), join(repo, 'native-bindings', 'build', 'skiff-exec')];
  const hash = () => files.map((f) => createHash('sha256').update(readFileSync(f)).digest('hex'));
  const before = hash();
  // PID 1 keeps trying to open every process's exe for writing while exec runs.
  const id = (await h.ok(t, ['run', '-d', 'busybox', 'sh', '-c',
    'while true; do for p in /proc/[0-9]*; do (echo x >> $p/exe) 2>/dev/null && echo "WROTE $(readlink $p/exe)"; done; done'])).trim();
  for (let i = 0; i < 15; i++) await h.ok(t, ['exec', id, 'true']);
  await h.ok(t, ['stop', '-t', '0', id]);
  t.notRegex(await h.ok(t, ['logs', id]), /WROTE/);
  t.deepEqual(hash(), before);
});

it('skiff\'s own environment does not reach the container; host and sibling processes are invisible', async (t) => {
  const h = await harness(t);
  const env = await h.ok(t, ['run', '--rm', 'busybox', 'env'], { env: { SKIFF_SECRET: 'hunter2', AWS_SECRET_ACCESS_KEY: 'x' } });
  t.notRegex(env, /hunter2|AWS_SECRET|SKIFF_/);
  t.regex(await h.ok(t, ['run', '--rm', '-e', 'PASSED=1', 'busybox', 'env']), /PASSED=1/, 'control: variables passed with -e arrive');
  const sibling = (await h.ok(t, ['run', '-d', 'busybox', 'sleep', '300'])).trim();
  const me = spawn('sleep', ['30']);
  t.teardown(() => { me.kill(); });
  const ps = await h.ok(t, ['run', '--rm', 'busybox', 'sh', '-c', `ps -o pid,comm; kill -0 ${me.pid} && echo SIGNALLED; true`]);
  t.notRegex(ps, /sleep/, 'neither the host\'s nor the sibling\'s sleep is visible');
  t.notRegex(ps, /SIGNALLED/);
  t.regex(await h.ok(t, ['exec', sibling, 'ps', '-o', 'comm']), /sleep/, 'control: the sibling sees its own sleep');
});
