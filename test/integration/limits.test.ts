// Limits as a user checks them, on whatever cgroup layout the host has:
// cgroup v2 in the VM lane (test/vm), v1 controllers plus a cgroup2 mount on
// the development hosts. Each test reads the layout and checks the files that
// layout has, then shows the limit enforced where that can be measured.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectHostLayout } from '../../runtime/cgroups/index.js';
import { cgroupsFor, harness, it } from './_harness.js';

const layout = detectHostLayout();
const v2 = layout.mode === 'unified';

/** The container's cgroup directory on the host for CONTROLLER ('' = the cgroup2 tree), from /proc/PID/cgroup. */
function hostDir(pid: number, controller: 'memory' | 'cpu' | 'pids' | ''): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':'));
  const h = controller === '' ? layout.v2! : v2 ? layout.v2! : layout.controllers[controller]!;
  const line = controller === '' || v2 ? lines.find((l) => l[0] === '0') : lines.find((l) => l[1].split(',').includes(controller));
  // mountPoint + the cgroup path (the mount of these hosts has root "/").
  return join(h.mountPoint, line![2]);
}

const read = (file: string) => readFileSync(file, 'utf8').trim();

it('limits reach the cgroup files of the layout: memory, swap, cpu quota, weight or shares, pids', async (t) => {
  const h = await harness(t);
  const id = (await h.ok(t, ['run', '-d', '--cpus', '0.5', '--cpu-shares', '512', '-m', '64m', '--memory-swap', '128m', '--pids-limit', '50',
    'busybox', 'sleep', '60'])).trim();
  const pid = Number((await h.ok(t, ['inspect', '-f', '{{.State.Pid}}', id])).trim());
  t.log(`layout ${layout.mode}; memory dir ${hostDir(pid, 'memory')}`);
  for (const c of ['memory', 'cpu', 'pids'] as const) t.true(hostDir(pid, c).endsWith(`/skiff/${id}`), `${c}: ${hostDir(pid, c)}`);
  if (v2) {
    const dir = hostDir(pid, '');
    t.is(read(join(dir, 'memory.max')), String(64 << 20));
    t.is(read(join(dir, 'memory.swap.max')), String(64 << 20), 'memory.swap.max is the swap part: 128m - 64m');
    t.is(read(join(dir, 'cpu.max')), '50000 100000');
    t.is(read(join(dir, 'cpu.weight')), '20', 'cpu.weight from shares 512 (runc\'s mapping)');
    t.is(read(join(dir, 'pids.max')), '50');
  } else {
    t.is(read(join(hostDir(pid, 'memory'), 'memory.limit_in_bytes')), String(64 << 20));
    t.is(read(join(hostDir(pid, 'memory'), 'memory.memsw.limit_in_bytes')), String(128 << 20));
    t.is(read(join(hostDir(pid, 'cpu'), 'cpu.cfs_quota_us')), '50000');
    t.is(read(join(hostDir(pid, 'cpu'), 'cpu.shares')), '512');
    t.is(read(join(hostDir(pid, 'pids'), 'pids.max')), '50');
  }
  t.is((await h.ok(t, ['inspect', '-f', '{{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.Memory}}', id])).trim(), '500000000 50 67108864');
  await h.ok(t, ['rm', '-f', id]);
  t.deepEqual(cgroupsFor([id]), [], 'rm -f leaves no cgroup directory in any hierarchy');
});

it('a busy loop under --cpus 0.5 gets about half a CPU', async (t) => {
  const h = await harness(t);
  const id = (await h.ok(t, ['run', '-d', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done'])).trim();
  const pid = Number((await h.ok(t, ['inspect', '-f', '{{.State.Pid}}', id])).trim());
  const ticks = () => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
  };
  const c0 = ticks(), w0 = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  const share = (ticks() - c0) / 100 / ((Date.now() - w0) / 1000);
  t.log(`CPU share under --cpus 0.5: ${share.toFixed(2)}`);
  t.true(share <= 0.6, `the quota holds: ${share.toFixed(2)} of a CPU`);
  t.true(share > 0.02, `the loop ran: ${share.toFixed(2)} of a CPU (a loaded machine gives it less than the quota)`);
  await h.ok(t, ['rm', '-f', id]);
});

it('stats shows what the cgroup counts: CPU % under --cpus, memory against -m, tasks; a stopped container is zeros', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '-d', '--network', 'none', '--name', 'busy', '--cpus', '0.5', '-m', '64m', 'busybox', 'sh', '-c', 'while :; do :; done']);
  await h.ok(t, ['run', '-d', '--network', 'none', '--name', 'two', 'busybox', 'sh', '-c', 'sleep 600 & sleep 601']);
  await h.ok(t, ['create', '--name', 'off', 'busybox', 'true']);
  const out = await h.ok(t, ['stats', '--no-stream', '-a', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.PIDs}}']);
  const rows = Object.fromEntries(out.trim().split('\n').map((l) => l.split('|')).map(([name, ...rest]) => [name, rest]));
  const cpu = (name: string) => Number(rows[name][0].replace('%', ''));
  t.log(`busy: ${rows.busy.join(' ')}; two: ${rows.two.join(' ')}`);
  t.true(cpu('busy') > 0 && cpu('busy') <= 65, `the loop runs, within its half CPU (Docker's % of one CPU): ${rows.busy[0]}`);
  t.true(cpu('two') < 5, `sleeping costs nothing: ${rows.two[0]}`);
  t.regex(rows.busy[1], /^\d+(\.\d+)?[KM]?i?B \/ 64MiB$/, 'the -m limit');
  t.regex(rows.two[1], / \/ \d+(\.\d+)?GiB$/, 'no limit: the machine\'s memory');
  t.is(rows.two[3], '0B / 0B', '--network none: nothing sent or received');
  t.is(rows.two[4], '2', 'two tasks');
  t.deepEqual(rows.off, ['0.00%', '0B / 0B', '0.00%', '0B / 0B', '0'], 'a stopped container');
  const table = await h.ok(t, ['stats', '--no-stream', 'two']);
  t.regex(table, /^CONTAINER ID {3}NAME {6}CPU % {5}MEM USAGE \/ LIMIT {3}MEM % {5}NET I\/O {3}BLOCK I\/O {3}PIDS\n[0-9a-f]{12} {3}two /);
});

it('/sys/fs/cgroup inside shows the container\'s own cgroup, read-only; --privileged may write it', async (t) => {
  const h = await harness(t);
  const file = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
  t.is((await h.ok(t, ['run', '--rm', '-m', '32m', 'busybox', 'cat', file])).trim(), '33554432');
  const ro = await h.run(['run', '--rm', '-m', '32m', 'busybox', 'sh', '-c', `echo 40000000 > ${file}`]);
  t.not(ro.code, 0);
  t.regex(ro.stderr, /Read-only file system/);
  if (v2) {
    // cgroup2's nsdelegate keeps the namespace root's own limits for the parent to set,
    // even with --privileged; what the mount allows is making sub-cgroups.
    t.is((await h.ok(t, ['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'mkdir /sys/fs/cgroup/sub && rmdir /sys/fs/cgroup/sub && echo made'])).trim(), 'made',
      'control: with --privileged /sys/fs/cgroup is writable');
    const roMkdir = await h.run(['run', '--rm', 'busybox', 'mkdir', '/sys/fs/cgroup/sub']);
    t.regex(roMkdir.stderr, /Read-only file system/);
  } else {
    t.is((await h.ok(t, ['run', '--rm', '--privileged', '-m', '32m', 'busybox', 'sh', '-c', `echo 41943040 > ${file} && cat ${file}`])).trim(), '41943040',
      'control: with --privileged the container may change its own limit');
  }
  // The cgroup namespace makes the container's cgroup its root: no host path shows.
  const self = await h.ok(t, ['run', '--rm', 'busybox', 'cat', '/proc/self/cgroup']);
  if (v2) t.is(self.trim(), '0::/');
  else t.regex(self, /^\d+:memory:\/$/m);
  t.notRegex(self, /skiff/);
  if (!v2) {
    const ls = await h.ok(t, ['run', '--rm', 'busybox', 'ls', '/sys/fs/cgroup']);
    for (const name of ['memory', 'pids', 'devices', 'freezer']) t.regex(ls, new RegExp(`^${name}$`, 'm'));
  }
});

it('kill and rm -f end every process of the container, exec\'d ones too, and leave no cgroup', async (t) => {
  const h = await harness(t);
  const id = (await h.ok(t, ['run', '-d', 'busybox', 'sleep', '300'])).trim();
  await h.ok(t, ['exec', '-d', id, 'sleep', '301']);
  const pid = Number((await h.ok(t, ['inspect', '-f', '{{.State.Pid}}', id])).trim());
  const procs = join(hostDir(pid, v2 ? '' : 'pids'), 'cgroup.procs');
  for (let i = 0; i < 50 && read(procs).split('\n').length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  t.true(read(procs).split('\n').length >= 2, 'the exec\'d sleep is in the container cgroup');
  await h.ok(t, ['kill', id]);
  t.is((await h.ok(t, ['wait', id])).trim(), '137');
  t.deepEqual(cgroupsFor([id]), [], 'the cgroup is gone with the container\'s processes');
  await h.ok(t, ['rm', id]);
});
