// skiff-runc: runc's command line over skiff's engine, driven directly and by
// real clients (podman, containerd, dockerd). Each test has its own --root, bundle
// and client state under a fresh /tmp dir, and removes them even on failure.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { cgroupsFor, ensureFixtures, fixtures, it, mountsUnder, repo, skipReason } from './_harness.js';
import { withTools, type Tools } from './_tools.js';

const runc = join(repo, 'dist', 'bin', 'runc.cjs');

interface R { code: number; stdout: string; stderr: string }

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}): Promise<R> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? 60_000);
    p.on('error', reject);
    // On exit, not close: a created or detached container keeps the command's stdout and stderr open.
    p.on('exit', (code, sig) => {
      clearTimeout(timer);
      const done = () => resolve({ code: code ?? 128 + (sig ? 9 : 0), stdout, stderr });
      const late = setTimeout(done, 200);
      p.on('close', () => {
        clearTimeout(late);
        done();
      });
    });
    p.stdin.end(opts.input ?? '');
  });
}

interface Env { dir: string; root: string; bundle: string; ids: string[]; r: (...args: string[]) => Promise<R> }

/** A scratch dir with a busybox bundle (rootfs copied from the fixture) and a --root of its own. */
function setup(t: ExecutionContext, args: string[] = ['true'], edit: (c: Record<string, any>) => void = () => {}): Env {
  ensureFixtures();
  const dir = mkdtempSync('/tmp/oci-test-');
  const root = join(dir, 'state');
  const bundle = join(dir, 'bundle');
  cpSync(join(fixtures, 'rootfs'), join(bundle, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  execFileSync(runc, ['spec', '--bundle', bundle]);
  const c = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Record<string, any>;
  c.process.terminal = false;
  c.process.args = args;
  edit(c);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(c));
  const env: Env = { dir, root, bundle, ids: [], r: (...a) => sh(runc, ['--root', root, ...a]) };
  t.teardown(async () => {
    for (const id of existsSync(root) ? readdirSync(root) : []) await env.r('delete', '--force', id);
    rmSync(dir, { recursive: true, force: true });
  });
  return env;
}

const newId = () => `t${randomBytes(5).toString('hex')}`;

function assertNothingLeft(t: ExecutionContext, e: Env, id: string): void {
  t.deepEqual(cgroupsFor([`runc-${id}`]), [], 'no cgroup left');
  t.deepEqual(mountsUnder(e.dir), [], 'no mount left');
  t.false(existsSync(join(e.root, id)), 'no state dir left');
}

it('create killed with SIGKILL at each start phase: delete --force then leaves no mount, cgroup, state or waiting child', async (t) => {
  const e = setup(t, ['sleep', '100']);
  for (const phase of ['cloned', 'root-built', 'stub-ready']) {
    const id = newId();
    // SKIFF_FAULT: the command kills itself when it reaches the phase (runtime/util/trace.ts), as a dying shim would.
    const r = await sh(runc, ['--root', e.root, 'create', '--bundle', e.bundle, id], { env: { SKIFF_FAULT: phase } });
    t.is(r.code, 137, `${phase}: create was killed`);
    const d = await e.r('delete', '--force', id);
    t.true(d.code === 0 || /does not exist/.test(d.stderr), `${phase}: delete --force: ${d.stderr}`);
    assertNothingLeft(t, e, id);
    // The cloned child carries create's command line (with the id) until it execs: none may be left waiting.
    // (A child killed with its parent may take a moment to go on a busy machine; a left one waits for good.)
    const waiting = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(id);
      } catch {
        return false;
      }
    });
    let left = waiting();
    for (let i = 0; left.length && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = waiting();
    }
    t.deepEqual(left, [], `${phase}: no process of the killed create left`);
  }
});

it('run: the exit code of the container process is propagated', async (t) => {
  const e = setup(t, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
  const id = newId();
  const r = await e.r('run', '--bundle', e.bundle, id);
  t.is(r.code, 3, r.stderr);
  t.is(r.stdout, 'out\n');
  t.is(r.stderr, 'err\n');
  assertNothingLeft(t, e, id);
});

it('create, state, start, kill, delete: runc life cycle with --pid-file', async (t) => {
  const e = setup(t, ['sleep', '100']);
  const id = newId();
  const pidFile = join(e.dir, 'pid');
  const c = await e.r('create', '--bundle', e.bundle, '--pid-file', pidFile, id);
  t.is(c.code, 0, c.stderr);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  t.true(pid > 0);
  const state = async () => JSON.parse((await e.r('state', id)).stdout) as { status: string; pid: number; id: string; bundle: string; ociVersion: string; annotations: object };
  let s = await state();
  t.is(s.status, 'created');
  t.is(s.pid, pid);
  t.is(s.id, id);
  t.is(s.bundle, e.bundle);
  t.regex(s.ociVersion, /^1\./);
  t.deepEqual(s.annotations, {});
  // Waiting before its exec: still skiff-exec, not sleep.
  t.regex(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^skiff-exec\x00/);
  t.is((await e.r('start', id)).code, 0);
  s = await state();
  t.is(s.status, 'running');
  t.regex(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\x00100/);
  const list = JSON.parse((await e.r('list', '--format', 'json')).stdout) as Array<{ id: string; status: string }>;
  t.deepEqual(list.map((x) => [x.id, x.status]), [[id, 'running']]);
  const d = await e.r('delete', id);
  t.is(d.code, 1, 'a running container is not deleted without --force');
  t.regex(d.stderr, /not stopped/);
  t.is((await e.r('kill', id, 'KILL')).code, 0);
  for (let i = 0; i < 50 && (await state()).status !== 'stopped'; i++) await new Promise((res) => setTimeout(res, 50));
  t.is((await state()).status, 'stopped');
  t.is((await e.r('delete', id)).code, 0);
  assertNothingLeft(t, e, id);
});

it('exec --detach --pid-file: the process in the pid file outlives skiff-runc and exits with the command\'s status', async (t) => {
  const e = setup(t, ['sleep', '100']);
  const id = newId();
  t.is((await e.r('run', '--detach', '--bundle', e.bundle, id)).code, 0);
  const pidFile = join(e.dir, 'exec.pid');
  // What a shim does: run exec detached, then reap the pid from the file (as a subreaper) for the exit status.
  const x = await e.r('exec', '--detach', '--pid-file', pidFile, id, 'sh', '-c', 'sleep 10; exit 5');
  t.is(x.code, 0, x.stderr);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  await new Promise((res) => setTimeout(res, 300));
  // Before the fix, it died with skiff-runc (PDEATHSIG), and the shim reported 137 for `exit 5`.
  t.true(existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'still running after skiff-runc returned');
  await e.r('delete', '--force', id);
});

it('an unknown id gives runc\'s wording and exit 1', async (t) => {
  const e = setup(t);
  for (const verb of ['state', 'start', 'kill', 'delete', 'pause']) {
    const r = await e.r(verb, 'nosuch');
    t.is(r.code, 1, verb);
    t.regex(r.stderr, /level=error msg="container does not exist"/, verb);
  }
  const log = join(e.dir, 'log.json');
  const r = await sh(runc, ['--root', e.root, '--log', log, '--log-format', 'json', 'state', 'nosuch']);
  t.is(r.stderr, 'container does not exist\n');
  t.like(JSON.parse(readFileSync(log, 'utf8').trim()), { level: 'error', msg: 'container does not exist' });
  t.is((await e.r('list')).stdout.split('\n')[0].split(/\s+/).join(' '), 'ID PID STATUS BUNDLE CREATED OWNER');
});

it('an invalid config is one line naming the JSON path, exit 1, and leaves nothing', async (t) => {
  const cases: Array<[(c: Record<string, any>) => void, RegExp]> = [
    [(c) => { c.linux.intelRdt = { closID: 'x' }; }, /^config\.json: linux\.intelRdt is not supported$/],
    [(c) => { c.process.args = []; }, /^config\.json: process\.args must not be empty$/],
    [(c) => { c.mounts[1].options.push('idmap'); }, /^config\.json: mounts\[1\]\.options\[4\] "idmap" is not supported$/],
    [(c) => { c.linux.namespaces.push({ type: 'time' }); }, /^config\.json: linux\.namespaces\[6\]\.type "time" is not supported$/],
    [(c) => { c.process.capabilities.bounding.push('CAP_NOPE'); }, /^config\.json: process\.capabilities\.bounding\[3\]/],
    [(c) => { c.linux.resources.memory = { limit: 1000 }; }, /^config\.json: linux\.resources is invalid/],
    [(c) => { c.linux.sysctl = { 'kernel.hostname': 'x' }; }, /^config\.json: linux\.sysctl\.kernel\.hostname is not namespaced/],
  ];
  for (const [edit, want] of cases) {
    const e = setup(t, ['true'], edit);
    const id = newId();
    const r = await e.r('--log-format', 'json', 'create', '--bundle', e.bundle, id);
    t.is(r.code, 1);
    const line = (/msg="(.*)"\n$/.exec(r.stderr)?.[1] ?? r.stderr).replace(/\\"/g, '"');
    t.is(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
    t.regex(line, want);
    assertNothingLeft(t, e, id);
  }
  const e = setup(t);
  writeFileSync(join(e.bundle, 'config.json'), '{"ociVersion": ');
  const r = await e.r('create', '--bundle', e.bundle, 'bad');
  t.is(r.code, 1);
  t.regex(r.stderr, /config\.json:  ?is not valid JSON/);
  assertNothingLeft(t, e, 'bad');
});

it('delete --force of a running container leaves nothing', async (t) => {
  const e = setup(t, ['sh', '-c', 'sleep 100 & sleep 100']);
  const id = newId();
  t.is((await e.r('run', '--detach', '--bundle', e.bundle, id)).code, 0);
  let pids: number[] = [];
  for (let i = 0; i < 50 && pids.length < 2; i++) {
    pids = JSON.parse((await e.r('ps', '--format', 'json', id)).stdout) as number[];
    await new Promise((res) => setTimeout(res, 50));
  }
  t.is(pids.length, 2);
  t.is((await e.r('delete', '--force', id)).code, 0);
  for (const p of pids) t.false(existsSync(`/proc/${p}/cmdline`) && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep'), `pid ${p} is gone`);
  assertNothingLeft(t, e, id);
});

it('config fields reach the process: env, cwd, user, hostname, rlimits, read-only root, masked paths, seccomp', async (t) => {
  const e = setup(t, ['sh', '-c', 'echo $FOO; pwd; id -u; id -G; hostname; ulimit -n; touch /x 2>&1 | grep -c Read-only; ls /home | wc -l; cat /dev/null && echo null-ok; head -c1 /dev/zero | wc -c; mkdir /tmp/d && echo mkdir-ok; true'], (c) => {
    c.process.env.push('FOO=bar');
    c.process.cwd = '/tmp';
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [5, 7] };
    c.hostname = 'oci-box';
    c.linux.maskedPaths.push('/home');
    c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 512 }];
    c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['mode=1777'] });
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
  });
  writeFileSync(join(e.bundle, 'rootfs', 'home', 'x'), 'x');
  const r = await e.r('run', '--bundle', e.bundle, newId());
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.deepEqual(lines.slice(0, 7), ['bar', '/tmp', '1000', '1000 5 7', 'oci-box', '512', '1']);
  t.is(lines[7].trim(), '0', 'masked /home is empty');
  t.deepEqual(lines.slice(8, 10).map((l) => l.trim()), ['null-ok', '1'], 'default devices are allowed');
  t.false(r.stdout.includes('mkdir-ok'), 'seccomp refused mkdir');
});

it('hooks run with the state on stdin: createRuntime and prestart at create, poststart at start, poststop at delete', async (t) => {
  const e = setup(t, ['sleep', '100']);
  const out = join(e.dir, 'hooks');
  const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > ${out}.${name}`] });
  const c = JSON.parse(readFileSync(join(e.bundle, 'config.json'), 'utf8')) as Record<string, any>;
  c.hooks = { createRuntime: [hook('createRuntime')], prestart: [hook('prestart')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
  writeFileSync(join(e.bundle, 'config.json'), JSON.stringify(c));
  const id = newId();
  t.is((await e.r('create', '--bundle', e.bundle, id)).code, 0);
  t.like(JSON.parse(readFileSync(`${out}.createRuntime`, 'utf8')), { id, status: 'created' });
  t.like(JSON.parse(readFileSync(`${out}.prestart`, 'utf8')), { id, status: 'created' });
  t.false(existsSync(`${out}.poststart`));
  t.is((await e.r('start', id)).code, 0);
  t.like(JSON.parse(readFileSync(`${out}.poststart`, 'utf8')), { id, status: 'running' });
  t.is((await e.r('delete', '--force', id)).code, 0);
  t.like(JSON.parse(readFileSync(`${out}.poststop`, 'utf8')), { id, status: 'stopped' });
});

it('namespaces: joined by path (ipc, uts, pid, network), or the host\'s when left out', async (t) => {
  const a = setup(t, ['sleep', '100']);
  const idA = newId();
  t.is((await a.r('run', '--detach', '--bundle', a.bundle, idA)).code, 0);
  const pidA = (JSON.parse((await a.r('state', idA)).stdout) as { pid: number }).pid;
  const show = 'for n in ipc uts pid net; do readlink /proc/self/ns/$n; done; hostname';
  const b = setup(t, ['sh', '-c', show], (c) => {
    delete c.hostname;
    c.linux.namespaces = [{ type: 'mount' }, ...['ipc', 'uts', 'pid', 'network'].map((type) => ({ type, path: `/proc/${pidA}/ns/${type === 'network' ? 'net' : type}` }))];
  });
  const r = await b.r('run', '--bundle', b.bundle, newId());
  t.is(r.code, 0, r.stderr);
  const want = ['ipc', 'uts', 'pid', 'net'].map((n) => readlinkSync(`/proc/${pidA}/ns/${n}`));
  t.deepEqual(r.stdout.trim().split('\n'), [...want, 'skiff']);
  const host = setup(t, ['sh', '-c', show], (c) => {
    delete c.hostname;
    c.linux.namespaces = [{ type: 'mount' }];
  });
  const h = await host.r('run', '--bundle', host.bundle, newId());
  t.is(h.code, 0, h.stderr);
  t.deepEqual(h.stdout.trim().split('\n').slice(0, 4), ['ipc', 'uts', 'pid', 'net'].map((n) => readlinkSync(`/proc/self/ns/${n}`)));
});

it('two concurrent creates of one id leave exactly one container', async (t) => {
  const e = setup(t, ['sleep', '100']);
  const id = newId();
  const [a, b] = await Promise.all([e.r('create', '--bundle', e.bundle, id), e.r('create', '--bundle', e.bundle, id)]);
  t.deepEqual([a.code, b.code].sort(), [0, 1], a.stderr + b.stderr);
  t.regex(a.code ? a.stderr : b.stderr, new RegExp(`container with id exists: ${id}`));
  const list = JSON.parse((await e.r('list', '--format', 'json')).stdout) as Array<{ id: string; status: string }>;
  t.deepEqual(list.map((x) => [x.id, x.status]), [[id, 'created']]);
  t.is((await e.r('delete', id)).code, 0);
  assertNothingLeft(t, e, id);
});

it('update: new memory and pids limits reach the container\'s cgroup, from flags or a resources JSON on stdin', async (t) => {
  const e = setup(t, ['sleep', '100']);
  const id = newId();
  t.is((await e.r('run', '--detach', '--bundle', e.bundle, id)).code, 0);
  const u = await e.r('update', '--memory', '64m', '--pids-limit', '50', id);
  t.is(u.code, 0, u.stderr);
  const cg = (JSON.parse(readFileSync(join(e.root, id, 'state.json'), 'utf8')) as { cgroup: { dirs: Record<string, string>; layout: { controllers: Record<string, { version: number }> } } }).cgroup;
  const v2 = cg.layout.controllers.memory?.version === 2;
  t.is(readFileSync(join(cg.dirs.memory, v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
  t.is(readFileSync(join(cg.dirs.pids, 'pids.max'), 'utf8').trim(), '50');
  const j = await sh(runc, ['--root', e.root, 'update', '-r', '-', id], { input: JSON.stringify({ memory: { limit: 128 * 1024 * 1024 } }) });
  t.is(j.code, 0, j.stderr);
  t.is(readFileSync(join(cg.dirs.memory, v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim(), String(128 * 1024 * 1024));
  const bad = await e.r('update', '--memory', '1k', id);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /Minimum memory limit/);
});

it('linux.cgroupsPath (relative: beneath the runtime\'s own cgroup) gets the limits, and delete removes what create made', async (t) => {
  const top = `ocitest-${randomBytes(4).toString('hex')}`;
  const e = setup(t, ['sleep', '100'], (c) => {
    c.linux.cgroupsPath = `${top}/box`;
    c.linux.resources.pids = { limit: 42 };
  });
  const id = newId();
  const r = await e.r('run', '--detach', '--bundle', e.bundle, id);
  t.is(r.code, 0, r.stderr);
  const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /:pids:/.test(l) || /^0::/.test(l))!.split(':')[2];
  const pidsRoot = existsSync('/sys/fs/cgroup/pids') ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';
  const dir = join(pidsRoot, own, top, 'box');
  t.is(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '42');
  const pid = (JSON.parse((await e.r('state', id)).stdout) as { pid: number }).pid;
  t.true(readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)));
  t.is((await e.r('delete', '--force', id)).code, 0);
  t.deepEqual(cgroupsFor([top]), [], 'the directories create made are gone');
});

// ---- real clients -------------------------------------------------------------

/** Client tests run one at a time: each starts a daemon, and their timing suffers on 2 shared cores. */
function client(title: string, fn: (t: ExecutionContext) => Promise<void>, tools: Tools): void {
  withTools(test.serial, tools, title, fn, skipReason);
}

const ulimits = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];

/**
 * A cgroup parent beneath this process's own cgroup in every hierarchy. Left
 * to themselves the clients make theirs at the hierarchy roots (/docker,
 * /libpod_parent, /NAMESPACE). remove() (for the end of the test's own
 * teardown, after its containers) removes the parent, and each of its
 * ancestors that did not exist before, once empty.
 */
function cgroupParent(): { path: string; remove(): void } {
  const own = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':').slice(2).join(':'));
  const deepest = own.reduce((a, b) => (b.length > a.length ? b : a), '/');
  const parent = `${deepest === '/' ? '' : deepest}/skiff-oci-${randomBytes(3).toString('hex')}`;
  const roots = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .filter((l) => / - cgroup2? /.test(l)).map((l) => l.split(' ')[4]);
  const ancestors = parent.split('/').slice(1).map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`);
  const existed = new Set(roots.flatMap((r) => ancestors.filter((a) => existsSync(r + a)).map((a) => r + a)));
  const remove = () => {
    const rmTree = (dir: string): void => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(dir, e.name));
      spawnSync('rmdir', [dir], { stdio: 'ignore' });
    };
    for (const r of roots) {
      rmTree(r + parent);
      for (const a of [...ancestors].reverse()) if (!existed.has(r + a)) spawnSync('rmdir', [r + a], { stdio: 'ignore' });
    }
  };
  return { path: parent, remove };
}

function podmanEnv(t: ExecutionContext) {
  ensureFixtures();
  const dir = mkdtempSync('/tmp/oci-podman-');
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file', '--tmpdir', join(dir, 'tmp'), '--runtime', runc];
  const cg = cgroupParent();
  const p = (...a: string[]) => sh('podman', [...base, ...(a[0] === 'run' ? ['run', '--cgroup-parent', cg.path, ...a.slice(1)] : a)], { timeout: 90_000 });
  t.teardown(async () => {
    await p('rm', '--all', '--force', '--time', '0');
    spawnSync('podman', [...base, 'system', 'reset', '--force'], { stdio: 'ignore' });
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
    cg.remove();
  });
  return { dir, p, cg };
}

client('podman --runtime skiff-runc: run --rm, exit codes, -t', async (t) => {
  const { p } = podmanEnv(t);
  t.is((await p('load', '-i', join(fixtures, 'busybox.tar'))).code, 0);
  const r = await p('run', '--rm', '--network', 'none', ...ulimits, 'busybox', 'echo', 'hi');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'hi\n');
  t.is((await p('run', '--rm', '--network', 'none', ...ulimits, 'busybox', 'sh', '-c', 'exit 42')).code, 42);
  const tty = await p('run', '--rm', '-t', '--network', 'none', ...ulimits, 'busybox', 'sh', '-c', 'test -t 0 && echo is-a-tty');
  t.is(tty.code, 0, tty.stderr);
  t.is(tty.stdout.trim(), 'is-a-tty');
  t.is((await p('ps', '-aq')).stdout, '');
}, { podman: 'podman' });

client('podman --runtime skiff-runc: -d, exec, stop, rm', async (t) => {
  const { p, cg } = podmanEnv(t);
  t.is((await p('load', '-i', join(fixtures, 'busybox.tar'))).code, 0);
  const d = await p('run', '-d', '--name', 'd1', '--network', 'none', ...ulimits, 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done');
  t.is(d.code, 0, d.stderr);
  const pid = (await p('inspect', '-f', '{{.State.Pid}}', 'd1')).stdout.trim();
  t.regex(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`:memory:${cg.path}/`), 'the container\'s cgroup is under the test\'s parent');
  const x = await p('exec', 'd1', 'sh', '-c', 'echo in-exec; cat /proc/1/cmdline');
  t.is(x.code, 0, x.stderr);
  t.regex(x.stdout, /^in-exec\nsh\0-c/);
  t.is((await p('exec', 'd1', 'sh', '-c', 'exit 7')).code, 7);
  const s = await p('stop', '-t', '5', 'd1');
  t.is(s.code, 0, s.stderr);
  t.is((await p('inspect', '-f', '{{.State.ExitCode}}', 'd1')).stdout.trim(), '0');
  t.is((await p('rm', 'd1')).code, 0);
  t.is((await p('ps', '-aq')).stdout, '');
}, { podman: 'podman' });

client('containerd + ctr --runc-binary skiff-runc: run --rm, and a detached task killed and deleted', async (t) => {
  ensureFixtures();
  const dir = mkdtempSync('/tmp/oci-ctrd-');
  const sock = join(dir, 'c.sock');
  writeFileSync(join(dir, 'config.toml'), [
    'version = 2', `root = "${dir}/root"`, `state = "${dir}/state"`, `[grpc]`, `  address = "${sock}"`, `[ttrpc]`, `  address = "${sock}.ttrpc"`,
    `[debug]`, `  address = "${sock}.debug"`, `[metrics]`, `  address = ""`,
    // No CRI, no network plugins: only what ctr needs.
    `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
  ].join('\n'));
  const daemon = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const ctr = (...a: string[]) => sh('ctr', ['--address', sock, '--namespace', 'skifftest', ...a], { timeout: 90_000 });
  const cg = cgroupParent();
  t.teardown(async () => {
    for (const id of ['c1', 'c2']) {
      await ctr('task', 'kill', '-s', 'KILL', id);
      await ctr('task', 'delete', '-f', id);
      await ctr('container', 'delete', id);
    }
    daemon.kill('SIGTERM');
    await new Promise((res) => { daemon.once('exit', res); setTimeout(res, 5000); });
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
    cg.remove();
  });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((res) => setTimeout(res, 100));
  t.true(existsSync(sock), log);
  const imp = await ctr('images', 'import', '--base-name', 'localhost/busybox', join(fixtures, 'busybox-oci.tar'));
  t.is(imp.code, 0, imp.stderr);
  const image = (await ctr('images', 'ls', '-q')).stdout.trim().split('\n')[0];
  const r = await ctr('run', '--rm', '--runc-binary', runc, '--cgroup', `${cg.path}/c1`, image, 'c1', 'echo', 'hi');
  t.is(r.code, 0, r.stderr + log);
  t.is(r.stdout, 'hi\n');
  const d = await ctr('run', '-d', '--runc-binary', runc, '--cgroup', `${cg.path}/c2`, image, 'c2', 'sleep', '100');
  t.is(d.code, 0, d.stderr);
  const tasks = await ctr('task', 'ls');
  t.regex(tasks.stdout, /c2\s+\d+\s+RUNNING/);
  t.is((await ctr('task', 'kill', '-s', 'KILL', 'c2')).code, 0);
  for (let i = 0; i < 50 && !/STOPPED/.test((await ctr('task', 'ls')).stdout); i++) await new Promise((res) => setTimeout(res, 100));
  t.regex((await ctr('task', 'ls')).stdout, /c2\s+\d+\s+STOPPED/);
  t.is((await ctr('task', 'delete', 'c2')).code, 0);
  t.is((await ctr('container', 'delete', 'c2')).code, 0);
}, { containerd: 'containerd', ctr: 'containerd' });

client('dockerd --add-runtime skiff=skiff-runc: run --rm, -d, exec, logs, stop, rm', async (t) => {
  ensureFixtures();
  const dir = mkdtempSync('/tmp/oci-docker-');
  const sock = join(dir, 'd.sock');
  // Its own socket, data and exec roots; no iptables and no bridge, so the host's firewall and networks stay untouched.
  const cg = cgroupParent();
  const daemon = spawn('dockerd', ['-H', `unix://${sock}`, '--cgroup-parent', cg.path, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'd.pid'),
    '--iptables=false', '--ip6tables=false', '--bridge=none', '--add-runtime', `skiff=${runc}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const docker = (...a: string[]) => sh('docker', a, { env: { DOCKER_HOST: `unix://${sock}` }, timeout: 90_000 });
  t.teardown(async () => {
    await docker('rm', '-f', 'd1');
    daemon.kill('SIGTERM');
    await new Promise((res) => { daemon.once('exit', res); setTimeout(res, 15_000); });
    for (const m of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
    cg.remove();
  });
  for (let i = 0; i < 150 && (await docker('version')).code !== 0; i++) await new Promise((res) => setTimeout(res, 100));
  t.is((await docker('load', '-i', join(fixtures, 'busybox.tar'))).code, 0, log);
  const r = await docker('run', '--runtime', 'skiff', '--rm', '--network', 'none', 'busybox', 'echo', 'hi');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'hi\n');
  t.is((await docker('run', '--runtime', 'skiff', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'exit 9')).code, 9);
  const d = await docker('run', '--runtime', 'skiff', '-d', '--name', 'd1', '--network', 'none', 'busybox', 'sh', '-c', 'echo logged; trap "exit 0" TERM; while :; do sleep 0.1; done');
  t.is(d.code, 0, d.stderr);
  const x = await docker('exec', 'd1', 'sh', '-c', 'echo in-exec');
  t.is(x.stdout, 'in-exec\n', x.stderr);
  t.is((await docker('exec', 'd1', 'sh', '-c', 'exit 5')).code, 5);
  t.is((await docker('logs', 'd1')).stdout, 'logged\n');
  t.is((await docker('stop', '-t', '5', 'd1')).code, 0);
  t.is((await docker('inspect', '-f', '{{.State.ExitCode}}', 'd1')).stdout.trim(), '0');
  t.is((await docker('rm', 'd1')).code, 0);
  t.is((await docker('ps', '-aq')).stdout, '');
}, { dockerd: 'docker.io', docker: 'docker.io' });
