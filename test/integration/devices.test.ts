// Device control, tried as an attacker would: make a node for a real host
// disk and open it. The v1 devices controller (hybrid hosts) and the eBPF
// program (cgroup v2, and hybrid hosts through their cgroup2 mount) must both
// refuse; --privileged is the control that shows the attempt itself works.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  attachDeviceProgram, createCgroup, destroyCgroup, detectHostLayout, parseDeviceRule, v2DirOf,
} from '../../runtime/cgroups/index.js';
import { harness, it } from './_harness.js';

interface BlockDevice { path: string; major: number; minor: number; head: Buffer }

/**
 * A block device the host itself can open and read: /dev/vda in the VM lane
 * (its first bytes are a known secret), /dev/loop0 here (this sandbox refuses
 * even the host's root access to the real disk).
 */
function hostBlockDevice(): BlockDevice {
  const names = readFileSync('/proc/partitions', 'utf8').split('\n').slice(2).map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 4);
  const candidates = [...names.map(([major, minor, , name]) => ({ path: `/dev/${name}`, major: Number(major), minor: Number(minor) })),
    { path: '/dev/loop0', major: 7, minor: 0 }];
  for (const c of candidates) {
    try {
      const fd = openSync(c.path, 'r');
      const head = Buffer.alloc(16);
      let n = 0;
      try {
        n = readSync(fd, head, 0, 16, 0);
      } catch {
        // an unbound loop device opens but cannot be read: opening is what is checked
      } finally {
        closeSync(fd);
      }
      return { ...c, head: head.subarray(0, n) };
    } catch {
      // not openable on this host
    }
  }
  throw new Error('no block device on this host can be opened, even by root');
}

it('mknod of a host block device succeeds but opening it is refused; --privileged opens it', async (t) => {
  const h = await harness(t);
  const dev = hostBlockDevice();
  t.log(`block device ${dev.path} (${dev.major}:${dev.minor})`);
  const cmd = `mknod /tmp/disk b ${dev.major} ${dev.minor} && echo MADE && head -c ${dev.head.length || 1} /tmp/disk > /tmp/got && echo OPENED; od -An -tu1 /tmp/got`;
  const denied = await h.run(['run', '--rm', 'busybox', 'sh', '-c', cmd]);
  t.regex(denied.stdout, /MADE/, 'mknod itself stays allowed, as in Docker');
  t.notRegex(denied.stdout, /OPENED/);
  t.regex(denied.stderr, /Operation not permitted/);
  const bytes = (out: string) => out.split('\n').slice(1).join(' ').trim().split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number);
  t.deepEqual(bytes(denied.stdout.replace(/^MADE\n/, 'x\n')), [], 'no byte of the disk reached the container');
  const allowed = await h.run(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', cmd]);
  t.regex(allowed.stdout, /OPENED/, `control: --privileged opens it (${allowed.stderr})`);
  if (dev.head.length) t.deepEqual(bytes(allowed.stdout.replace(/^MADE\nOPENED\n/, 'x\n')), [...dev.head], 'control: the same bytes as the host reads');
});

it('the standard /dev nodes open for reading and writing in a default container', async (t) => {
  const h = await harness(t);
  const out = await h.ok(t, ['run', '--rm', 'busybox', 'sh', '-c',
    'for d in null zero full random urandom; do head -c 1 /dev/$d > /dev/null && echo x > /dev/null && echo "$d ok"; done; ' +
    'echo hi > /dev/null && echo "write ok"; exec 3<>/dev/ptmx && echo "ptmx ok"']);
  for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'write', 'ptmx']) t.regex(out, new RegExp(`${d} ok`));
});

it('--device HOST:CONTAINER:r puts the node in /dev with read access only; other nodes stay refused', async (t) => {
  const h = await harness(t);
  const dev = hostBlockDevice();
  const out = await h.run(['run', '--rm', '--device', `${dev.path}:/dev/xdisk:r`, 'busybox', 'sh', '-c',
    'ls -l /dev/xdisk; head -c 1 /dev/xdisk > /dev/null && echo READ-OK; (echo > /dev/xdisk) 2>/dev/null || echo WRITE-REFUSED; ' +
    'mknod /tmp/other b 1 0 && (head -c 1 /tmp/other > /dev/null 2>&1 || echo OTHER-REFUSED)']);
  t.is(out.code, 0, out.stderr);
  t.regex(out.stdout, new RegExp(`^b.* ${dev.major},\\s+${dev.minor} .*/dev/xdisk`, 'm'));
  t.regex(out.stdout, /READ-OK/);
  t.regex(out.stdout, /WRITE-REFUSED/);
  t.regex(out.stdout, /OTHER-REFUSED/);
  const rw = await h.run(['run', '--rm', '--device', dev.path, 'busybox', 'sh', '-c', `ls ${dev.path} && head -c 1 ${dev.path} > /dev/null && echo OPEN-OK`]);
  t.regex(rw.stdout, /OPEN-OK/, `--device HOST keeps its path and gets rwm (${rw.stderr})`);
  const bad = await h.run(['run', '--rm', '--device', '/nonexistent-device', 'busybox', 'true']);
  t.is(bad.code, 125);
  t.regex(bad.stderr, /nonexistent-device.*no such file or directory/);
  t.is(h.containerIds().length, 0, 'a bad --device leaves no container');
});

it('an exec\'d process is under the same device control', async (t) => {
  const h = await harness(t);
  const dev = hostBlockDevice();
  const id = (await h.ok(t, ['run', '-d', 'busybox', 'sleep', '60'])).trim();
  const r = await h.run(['exec', id, 'sh', '-c', `mknod /tmp/d b ${dev.major} ${dev.minor} && head -c 1 /tmp/d > /dev/null && echo OPENED`]);
  t.notRegex(r.stdout, /OPENED/);
  t.regex(r.stderr, /Operation not permitted/);
  await h.ok(t, ['rm', '-f', id]);
});

// The eBPF program on its own: a cgroup2 directory with only the program
// attached (no v1 rules), and a process that moves itself in before opening.
it('the eBPF device program alone allows the listed nodes and refuses the rest', async (t) => {
  const layout = detectHostLayout();
  if (!layout.v2) {
    t.fail('this host has no cgroup2 mount: the eBPF program cannot be attached (PLATFORM.md says these hosts have one)');
    return;
  }
  const dev = hostBlockDevice();
  const cg = createCgroup(layout, `devtest-${process.pid}-${Date.now()}`);
  t.teardown(() => destroyCgroup(cg));
  const allow = ['c 1:3 rwm', 'c 1:5 r'].map(parseDeviceRule);
  t.true(attachDeviceProgram(cg, allow), 'the program loaded and attached');
  const procs = join(v2DirOf(cg)!, 'cgroup.procs');
  const script = `echo $$ > ${procs} || exit 9
    head -c 1 /dev/null > /dev/null && echo null-ok
    head -c 1 /dev/zero > /dev/null && echo zero-read-ok
    (echo x > /dev/zero) 2>/dev/null || echo zero-write-refused
    (head -c 1 ${dev.path} > /dev/null) 2>/dev/null || echo disk-refused`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    child.stdout.on('data', (d) => (s += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`exit ${code}: ${s}`))));
  });
  // 1:3 (null) may do anything; 1:5 (zero) may only be read; the disk is not listed.
  t.deepEqual(out.trim().split('\n'), ['null-ok', 'zero-read-ok', 'zero-write-refused', 'disk-refused']);
});
