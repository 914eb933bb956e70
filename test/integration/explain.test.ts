// --explain against reality: each value narrated is compared with what the
// kernel shows for the same container (/proc/PID/ns, the cgroup files, the
// address inside the netns, /proc/PID/mountinfo). Networked containers use
// the test's own bridge (the harness sets SKIFF_BRIDGE); traffic: none.
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { CAPS } from '../../runtime/sandbox/capabilities.js';
import { harness, it, sysTool, type Harness } from './_harness.js';
import { freePort } from './_net-util.js';

interface Narrated { step: string; what: string[]; values: Record<string, unknown>; why: string; see: string | null }

const inode = (link: string) => Number(/\[(\d+)\]$/.exec(readlinkSync(link))![1]);
const ip = (...args: string[]) => execFileSync(sysTool('ip'), args, { encoding: 'utf8' });
const nsenter = (pid: number, flag: string, ...cmd: string[]) => execFileSync(sysTool('nsenter'), ['-t', String(pid), flag, ...cmd], { encoding: 'utf8' });

function steps(t: ExecutionContext, stderr: string): Map<string, Narrated> {
  const out = new Map<string, Narrated>();
  for (const line of stderr.split('\n').filter(Boolean)) {
    let s: Narrated;
    try {
      s = JSON.parse(line) as Narrated;
    } catch {
      t.fail(`not a JSON line on stderr: ${line}`);
      continue;
    }
    t.truthy(s.step && s.why && Array.isArray(s.what), `step fields: ${line.slice(0, 200)}`);
    out.set(s.step, s);
  }
  return out;
}

function get(t: ExecutionContext, all: Map<string, Narrated>, step: string): Narrated {
  const s = all.get(step);
  if (!s) t.fail(`no "${step}" step narrated (got ${[...all.keys()].join(', ')})`);
  return s ?? { step, what: [], values: {}, why: '', see: null };
}

/** Mount points of a process's mount table, as it sees them. */
function mountPoints(pid: number): Array<{ point: string; fstype: string; superOpts: string }> {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n').map((l) => {
    const [left, right] = l.split(' - ');
    const [fstype, , superOpts] = right.split(' ');
    return { point: left.split(' ')[4], fstype, superOpts };
  });
}

const pidOf = async (h: Harness, t: ExecutionContext, id: string) => Number((await h.ok(t, ['inspect', '-f', '{{.State.Pid}}', id])).trim());

it('run --explain --rm: stdout stays empty, stderr has a plain block for each step', async (t) => {
  const h = await harness(t);
  const r = await h.run(['run', '--explain', '--rm', '--network', 'none', 'busybox', 'true']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.false(r.stderr.includes('\x1b['), 'no colour when stderr is not a terminal');
  for (const step of ['create', 'layers', 'overlay', 'cgroup', 'clone', 'idmap', 'network', 'mounts', 'hostname', 'pivot_root', 'seccomp',
    'cgroup-join', 'capabilities', 'user', 'execve', 'exit']) {
    t.regex(r.stderr, new RegExp(`^▸ ${step}$`, 'm'), `a block for ${step}`);
  }
  t.regex(r.stderr, /^ {2}kernel: clone\(CLONE_NEWPID \| CLONE_NEWNS \| CLONE_NEWUTS \| CLONE_NEWIPC \| CLONE_NEWNET \| SIGCHLD\) = \d+$/m);
  t.regex(r.stderr, /^ {2}see: {4}ls -l \/proc\/\d+\/ns$/m);
  t.regex(r.stderr, /^ {2}kernel: execve\("\/bin\/true", \["true"\]/m);
  t.regex(r.stderr, /^ {2}kernel: waitpid\(\) = exit status 0$/m);
  // SKIFF_EXPLAIN does the same; off, there is nothing.
  const env = await h.run(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hi'], { env: { SKIFF_EXPLAIN: '1' } });
  t.is(env.stdout, 'hi\n');
  t.regex(env.stderr, /^▸ pivot_root$/m);
  const off = await h.run(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hi']);
  t.is(off.stderr, '');
  // A command word --explain belongs to the command.
  const word = await h.run(['run', '--rm', '--network', 'none', 'busybox', 'echo', '--explain']);
  t.is(word.stdout, '--explain\n');
  t.is(word.stderr, '');
});

it('run --explain=json -d -m 64m -p: namespaces, cgroup files, address, NAT and mounts match the kernel', async (t) => {
  const h = await harness(t);
  const port = await freePort();
  const r = await h.run(['run', '--explain=json', '-d', '-m', '64m', '-p', `${port}:80`, '--hostname', 'teach', 'busybox', 'httpd', '-f', '-p', '80']);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.regex(id, /^[0-9a-f]{64}$/, 'stdout is the id alone');
  const all = steps(t, r.stderr);
  const pid = await pidOf(h, t, id);

  const clone = get(t, all, 'clone').values as { pid: number; flags: string[]; namespaces: Record<string, number> };
  t.is(clone.pid, pid);
  t.deepEqual(Object.keys(clone.namespaces).sort(), ['ipc', 'mnt', 'net', 'pid', 'uts']);
  for (const [ns, ino] of Object.entries(clone.namespaces)) {
    t.is(ino, inode(`/proc/${pid}/ns/${ns}`), `${ns} namespace inode`);
    t.not(ino, inode(`/proc/self/ns/${ns}`), `${ns} is not the host's`);
  }
  const execve = get(t, all, 'execve').values as { path: string; argv: string[]; cgroupns: number };
  t.deepEqual(execve.argv, ['httpd', '-f', '-p', '80']);
  t.is(execve.path, '/usr/sbin/httpd');
  t.is(execve.cgroupns, inode(`/proc/${pid}/ns/cgroup`), 'cgroup namespace inode');

  const cg = get(t, all, 'cgroup').values as { dirs: string[]; files: Array<{ file: string; value: string }> };
  const mem = cg.files.find((f) => /memory\.(max|limit_in_bytes)$/.test(f.file));
  t.is(mem?.value, '67108864');
  t.is(readFileSync(mem!.file, 'utf8').trim(), '67108864', `${mem?.file} holds the narrated limit`);
  for (const f of cg.files.filter((x) => !/devices\.(allow|deny)$/.test(x.file))) {
    t.is(readFileSync(f.file, 'utf8').trim().split(/\s+/)[0], f.value.split(/\s+/)[0], f.file);
  }
  const procs = (get(t, all, 'cgroup-join').values as { files: string[] }).files;
  t.true(procs.length > 0);
  for (const f of procs) t.true(readFileSync(f, 'utf8').split('\n').includes(String(pid)), `${pid} in ${f}`);

  const net = get(t, all, 'network').values as { ip: string; prefixLen: number; gateway: string; bridge: string; veth: string; mac: string };
  t.is(net.bridge, h.net.bridge);
  t.is(net.gateway, h.net.gateway);
  t.regex(nsenter(pid, '-n', sysTool('ip'), '-4', '-o', 'addr', 'show', 'dev', 'eth0'), new RegExp(`inet ${net.ip.replace(/\./g, '\\.')}/${net.prefixLen} `));
  t.regex(nsenter(pid, '-n', sysTool('ip'), 'route'), new RegExp(`^default via ${net.gateway.replace(/\./g, '\\.')} dev eth0`, 'm'));
  t.regex(nsenter(pid, '-n', sysTool('ip'), 'link', 'show', 'eth0'), new RegExp(`link/ether ${net.mac}`));
  t.regex(ip('link', 'show', net.veth), new RegExp(`master ${net.bridge}`));
  const nat = get(t, all, 'nat').values as { table: string; dnat: Array<{ hostPort: number; containerPort: number }> };
  t.deepEqual(nat.dnat.map((d) => [d.hostPort, d.containerPort]), [[port, 80]]);
  const table = execFileSync(sysTool('nft'), ['list', 'table', 'ip', nat.table], { encoding: 'utf8' });
  t.regex(table, new RegExp(`tcp dport ${port} .*dnat to ${net.ip.replace(/\./g, '\\.')}:80`));
  t.is(get(t, all, 'nat').see, `nft list table ip skiff-${h.net.bridge}`);

  const overlay = get(t, all, 'overlay').values as { upper: string; work: string; lower: string[] };
  const mounts = mountPoints(pid);
  const root = mounts.find((m) => m.point === '/');
  t.is(root?.fstype, 'overlay');
  t.true(root?.superOpts.includes(`upperdir=${overlay.upper}`), `root is the narrated overlay: ${root?.superOpts}`);
  t.true(root?.superOpts.includes(`lowerdir=${overlay.lower.join(':')}`));
  const plan = (get(t, all, 'mounts').values as { mounts: Array<{ kind: string; target: string }> }).mounts;
  const points = new Set(mounts.map((m) => m.point));
  const expected = plan.filter((m) => m.kind === 'fs' || m.kind === 'bind').map((m) => m.target);
  t.true(expected.length >= 15);
  for (const target of expected) t.true(points.has(target), `${target} is mounted inside`);

  t.is((get(t, all, 'hostname').values as { hostname: string }).hostname, 'teach');
  t.is(nsenter(pid, '-u', 'hostname').trim(), 'teach');
  t.is(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), (get(t, all, 'idmap').values as { uidMap: string }).uidMap);

  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kept = (get(t, all, 'capabilities').values as { kept: string[] }).kept;
  const mask = kept.reduce((m, c) => m | (1n << BigInt(CAPS.indexOf(c))), 0n);
  t.is(BigInt(`0x${/^CapEff:\s*(\w+)/m.exec(status)![1]}`), mask, 'CapEff is the narrated set');
  t.is(BigInt(`0x${/^CapBnd:\s*(\w+)/m.exec(status)![1]}`), mask, 'CapBnd is the narrated set');
  t.regex(status, /^Seccomp:\s*2$/m);
  t.is((get(t, all, 'seccomp').values as { defaultAction: string }).defaultAction, 'SCMP_ACT_ALLOW');
  t.regex(status, new RegExp(`^NoNewPrivs:\\s*${(get(t, all, 'user').values as { noNewPrivs: boolean }).noNewPrivs ? 1 : 0}$`, 'm'));
  t.is((get(t, all, 'detached').values as { pid: number }).pid, pid);

  // exec: the namespaces joined are PID 1's.
  const ex = await h.run(['exec', '--explain=json', id, 'true']);
  t.is(ex.code, 0, ex.stderr);
  t.is(ex.stdout, '');
  const exSteps = steps(t, ex.stderr);
  const joined = (get(t, exSteps, 'setns').values as { namespaces: Record<string, number> }).namespaces;
  t.deepEqual(Object.keys(joined), ['ipc', 'uts', 'net', 'cgroup', 'pid', 'mnt']);
  for (const [ns, ino] of Object.entries(joined)) t.is(ino, inode(`/proc/${pid}/ns/${ns}`), `exec joins ${ns}`);
  t.is((get(t, exSteps, 'exit').values as { code: number }).code, 0);
  await h.ok(t, ['rm', '-f', id]);
});

it('create --explain, then start --explain=json --userns-remap: the uid map narrated is the one written', async (t) => {
  const h = await harness(t);
  const c = await h.run(['create', '--explain', '--network', 'none', '--userns-remap', 'busybox', 'sleep', '60']);
  t.is(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  t.regex(c.stderr, /^▸ create$/m);
  t.notRegex(c.stderr, /^▸ clone$/m, 'create starts nothing');
  const s = await h.run(['start', '--explain=json', id]);
  t.is(s.code, 0, s.stderr);
  t.is(s.stdout.trim(), id);
  const all = steps(t, s.stderr);
  const pid = await pidOf(h, t, id);
  const idmap = get(t, all, 'idmap').values as { uidMap: string; gidMap: string; userns: boolean };
  t.true(idmap.userns);
  t.is(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), idmap.uidMap);
  t.is(readFileSync(`/proc/${pid}/gid_map`, 'utf8').trim().split(/\s+/).join(' '), idmap.gidMap);
  const clone = get(t, all, 'clone').values as { flags: string[]; namespaces: Record<string, number> };
  t.true(clone.flags.includes('CLONE_NEWUSER'));
  t.is(clone.namespaces.user, inode(`/proc/${pid}/ns/user`));
  t.true((get(t, all, 'overlay').values as { idmapped: boolean }).idmapped);
  t.is((get(t, all, 'network').values as { mode: string }).mode, 'none');
  await h.ok(t, ['rm', '-f', id]);
});
