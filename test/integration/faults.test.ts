// Fault injection (issue 14): long commands are killed at their phase
// boundaries, for real (SKIFF_FAULT makes the process SIGKILL itself at a
// SKIFF_TRACE mark, see runtime/util/trace.ts). After each fault the next
// ordinary command must leave the host clean (no mount, cgroup, address
// lease or frozen process), and ps, inspect and wait must agree with what is
// really there. `SKIFF_FAULTS=full` runs every kill point; the default runs a
// spread of them so that `npm test` stays quick.
import type { ExecutionContext } from 'ava';
import { mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { detectHostLayout } from '../../runtime/cgroups/detect.js';
import { cgroupsFor, cli, harness, it, mountsUnder, runProcess, type Harness, type Result, type RunOpts } from './_harness.js';

const full = process.env.SKIFF_FAULTS === 'full';

/** Every mark startContainer passes, in order (runtime/container/start.ts), plus run's own. */
const START_POINTS = ['created', 'rootfs-mounted', 'network-ready', 'cgroup-ready', 'cloned', 'root-built', 'stub-ready', 'exec', 'running'];
const QUICK_START_POINTS = ['rootfs-mounted', 'cgroup-ready', 'root-built', 'exec'];

function leases(h: Harness): string[] {
  try {
    const s = JSON.parse(readFileSync(join('/run/skiff/net', h.net.bridge, 'state.json'), 'utf8')) as { leases: Record<string, unknown> };
    return Object.keys(s.leases);
  } catch {
    return [];
  }
}

/** The containers' cgroup directories that are frozen: v1's freezer.state, or cgroup2's cgroup.freeze. */
function frozenCgroups(ids: string[]): string[] {
  const says = (dir: string, file: string, frozen: RegExp) => {
    try {
      return frozen.test(readFileSync(join(dir, file), 'utf8'));
    } catch {
      return false;
    }
  };
  return cgroupsFor(ids).filter((d) => says(d, 'freezer.state', /FROZEN|FREEZING/) || says(d, 'cgroup.freeze', /^1/));
}

/** What a user would check after the next command: nothing held that no running container needs. */
async function assertClean(t: ExecutionContext, h: Harness, what: string, everIds: string[]): Promise<void> {
  const ps = await h.run(['ps', '-a', '--format', '{{.ID}} {{.State}}']);
  t.is(ps.code, 0, `${what}: ps works`);
  const rows = ps.stdout.trim().split('\n').filter(Boolean).map((l) => l.split(' '));
  const running = rows.filter(([, s]) => s === 'running' || s === 'paused').map(([short]) => everIds.find((id) => id.startsWith(short)) ?? short);
  for (const [id, state] of rows) {
    const ins = (await h.ok(t, ['inspect', '-f', '{{.State.Status}} {{.State.Running}} {{.State.Paused}}', id])).trim();
    t.is(ins.split(' ')[0], state, `${what}: inspect agrees with ps on ${id}`);
    if (state !== 'running' && state !== 'paused') {
      const w = await h.run(['wait', id], { timeoutMs: 45_000 });
      t.is(w.code, 0, `${what}: wait returns for a stopped container (${w.stderr.trim()})`);
    }
  }
  const idle = everIds.filter((id) => !running.includes(id));
  t.deepEqual(mountsUnder(h.root).filter((m) => idle.some((id) => m.includes(id))), [], `${what}: no mount left`);
  t.deepEqual(cgroupsFor(idle), [], `${what}: no cgroup left`);
  t.deepEqual(leases(h).filter((id) => idle.includes(id)), [], `${what}: no address lease left`);
  t.deepEqual(frozenCgroups(everIds), [], `${what}: nothing frozen`);
}

for (const variant of ['run', 'run --rm', 'run -d', 'start'] as const) {
  it(`${variant} killed at each start phase: the next ps rolls it back${full ? ' (full)' : ''}`, async (t) => {
    const h = await harness(t);
    const points = full ? START_POINTS : QUICK_START_POINTS;
    for (const point of points) {
      if (variant === 'start' && point === 'created') continue;
      let id = '';
      let r;
      if (variant === 'start') {
        id = (await h.ok(t, ['create', 'busybox', 'sleep', '30'])).trim();
        r = await h.run(['start', id], { env: { SKIFF_FAULT: `${point}@monitor` } });
      } else if (variant === 'run -d') {
        r = await h.run(['run', '-d', 'busybox', 'sleep', '30'], { env: { SKIFF_FAULT: `${point}@monitor` } });
      } else {
        r = await h.run([...variant.split(' '), 'busybox', 'sleep', '30'], { env: { SKIFF_FAULT: point } });
      }
      const what = `${variant} killed at ${point}`;
      const ids = h.containerIds();
      if (variant === 'run' || variant === 'run --rm') t.is(r.code, 137, `${what}: the command died of SIGKILL`);
      await assertClean(t, h, what, ids);
      if (variant === 'run --rm') t.deepEqual(h.containerIds(), [], `${what}: the --rm container is gone`);
      if (variant === 'start' && point !== 'running') {
        t.regex(await h.ok(t, ['inspect', '-f', '{{.State.Status}}', id]), /created/, `${what}: still a created container`);
        // And it starts normally afterwards.
        await h.ok(t, ['start', id]);
        t.regex(await h.ok(t, ['inspect', '-f', '{{.State.Status}}', id]), /running/, `${what}: starts after the rollback`);
      }
      const left = h.containerIds();
      if (left.length) await h.ok(t, ['rm', '-f', ...left]);
      await assertClean(t, h, `${what}, then rm -f`, ids);
    }
  });
}

for (const sig of ['SIGKILL', 'SIGINT', 'SIGTERM']) {
  it(`commit interrupted by ${sig} while the container is frozen: it is thawed, nothing blocks`, async (t) => {
    const h = await harness(t);
    const id = (await h.ok(t, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '300'])).trim();
    const r = await h.run(['commit', id, 'snap'], { env: { SKIFF_FAULT: `commit-frozen:${sig}` } });
    t.is(r.code, 128 + { SIGKILL: 9, SIGINT: 2, SIGTERM: 15 }[sig]!, 'commit died of the signal');
    // After SIGINT/SIGTERM the handler thawed it; after SIGKILL, the next command does.
    if (sig !== 'SIGKILL') t.deepEqual(frozenCgroups([id]), [], 'thawed by the signal handler');
    t.regex(await h.ok(t, ['inspect', '-f', '{{.State.Paused}}', id]), /false/, 'inspect: not paused');
    t.deepEqual(frozenCgroups([id]), [], 'not frozen');
    const ex = await h.run(['exec', id, 'echo', 'alive'], { timeoutMs: 45_000 });
    t.is(ex.stdout.trim(), 'alive', `exec runs (does not hang): exit ${ex.code} ${ex.stderr}`);
    t.regex(await h.ok(t, ['ps', '--format', '{{.Status}}']), /^Up /);
    // A commit after the fault works and leaves it thawed.
    await h.ok(t, ['commit', id, 'snap2']);
    t.deepEqual(frozenCgroups([id]), []);
    const stop = await h.run(['stop', '-t', '1', id], { timeoutMs: 45_000 });
    t.is(stop.code, 0, 'stop does not hang');
  });
}

it('pause and unpause: ps, inspect, exec, stop, kill and rm behave like Docker', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '-d', '--network', 'none', '--name', 'p', 'busybox', 'sleep', '300']);
  await h.ok(t, ['pause', 'p']);
  const id = (await h.ok(t, ['inspect', '-f', '{{.Id}}', 'p'])).trim();
  t.is(frozenCgroups([id]).length > 0, true, 'the kernel froze it');
  t.is((await h.ok(t, ['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'p'])).trim(), 'paused true');
  t.regex(await h.ok(t, ['ps', '--format', '{{.Status}}']), /^Up .* \(Paused\)$/m);
  const again = await h.run(['pause', 'p']);
  t.is(again.code, 1);
  t.regex(again.stderr, /is already paused/);
  const ex = await h.run(['exec', 'p', 'true'], { timeoutMs: 45_000 });
  t.is(ex.code, 1);
  t.regex(ex.stderr, /is paused, unpause the container before exec/);
  const rm = await h.run(['rm', 'p']);
  t.is(rm.code, 1);
  t.regex(rm.stderr, /container is paused and must be unpaused first/);
  // A commit of a paused container keeps it paused.
  await h.ok(t, ['commit', 'p', 'snap']);
  t.is((await h.ok(t, ['inspect', '-f', '{{.State.Paused}}', 'p'])).trim(), 'true');
  await h.ok(t, ['unpause', 'p']);
  t.is((await h.ok(t, ['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'p'])).trim(), 'running false');
  t.deepEqual(frozenCgroups([id]), []);
  const un = await h.run(['unpause', 'p']);
  t.is(un.code, 1);
  t.regex(un.stderr, /is not paused/);
  t.is((await h.ok(t, ['exec', 'p', 'echo', 'ok'])).trim(), 'ok');
  // kill and rm -f of a paused container land at once.
  await h.ok(t, ['pause', 'p']);
  const k = await h.run(['kill', 'p'], { timeoutMs: 45_000 });
  t.is(k.code, 0);
  t.is((await h.ok(t, ['wait', 'p'], { timeoutMs: 45_000 })).trim(), '137');
  await h.ok(t, ['start', 'p']);
  await h.ok(t, ['pause', 'p']);
  const t0 = Date.now();
  await h.ok(t, ['rm', '-f', 'p'], { timeoutMs: 45_000 });
  t.true(Date.now() - t0 < 9000, 'rm -f of a paused container does not wait out the 10 s kill timeout');
  t.deepEqual(cgroupsFor([id]), []);
  const notRunning = await h.run(['pause', id]);
  t.is(notRunning.code, 1);
});

/** Removes a cgroup directory and those below it, killing what still runs there (a failed test's container). */
async function removeCgroupTree(dir: string): Promise<void> {
  let subdirs: string[] = [];
  try {
    subdirs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return; // gone
  }
  for (const d of subdirs) await removeCgroupTree(join(dir, d));
  for (let i = 0; ; i++) {
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if (i === 100) throw e;
      await new Promise((r) => setTimeout(r, 20)); // EBUSY: the killed tasks are not reaped yet
    }
  }
}

/**
 * `skiff` run from a cgroup of its own, as from another login session or a
 * service: a new cgroup beneath this process's own one, in every hierarchy
 * skiff uses. The teardown removes the containers, then the cgroup.
 */
function fromOtherCgroup(t: ExecutionContext, h: Harness, name: string): (args: string[], opts?: RunOpts) => Promise<Result> {
  const layout = detectHostLayout();
  const owns = new Set([...Object.values(layout.controllers).map((x) => x.ownDir), ...(layout.v2 ? [layout.v2.ownDir] : [])]);
  const dirs = [...owns].map((d) => join(d, `skiff-test-${process.pid}-${name}`));
  t.teardown(async () => {
    const ids = h.containerIds();
    if (ids.length) await h.run(['rm', '-f', ...ids]);
    for (const d of dirs) await removeCgroupTree(d);
  });
  for (const d of dirs) mkdirSync(d);
  // On cgroup v2 the first skiff there moved the cgroup's processes into
  // skiff-leaf (no internal processes): later ones join them there.
  const enter = 'for d in $SKIFF_TEST_CGROUPS; do [ -d "$d/skiff-leaf" ] && d="$d/skiff-leaf"; echo $$ > "$d/cgroup.procs" || exit 97; done; exec "$@"';
  return (args, opts = {}) => runProcess('sh', ['-c', enter, 'sh', cli, ...args], { ...opts, env: h.env({ ...opts.env, SKIFF_TEST_CGROUPS: dirs.join(' ') }) });
}

it('commands from another cgroup (another session) act on the container\'s own cgroup', async (t) => {
  const h = await harness(t);
  const inA = fromOtherCgroup(t, h, 'a');
  const inB = fromOtherCgroup(t, h, 'b');
  const ok = async (r: Promise<Result>, what: string) => {
    const res = await r;
    t.is(res.code, 0, `${what}: ${res.stderr}`);
    return res.stdout.trim();
  };
  const id = await ok(inA(['run', '-d', '--network', 'none', 'busybox', 'sleep', '300']), 'run -d in A');
  const pid = Number(await ok(inB(['inspect', '-f', '{{.State.Pid}}', id]), 'inspect in B'));
  t.regex(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), /skiff-test-\d+-a\/skiff\//, 'PID 1 lives beneath A');

  await ok(inB(['pause', id]), 'pause from B');
  t.true(frozenCgroups([id]).length > 0, 'the kernel froze it');
  t.is(await ok(inB(['inspect', '-f', '{{.State.Status}}', id]), 'inspect'), 'paused');
  await ok(inB(['unpause', id]), 'unpause from B');
  t.deepEqual(frozenCgroups([id]), [], 'thawed');
  // exec joins the container's cgroup: the new process must land beneath A too.
  const cg = await ok(inB(['exec', id, 'sh', '-c', 'cat /proc/1/cgroup; echo; cat /proc/self/cgroup']), 'exec from B');
  const [one, self] = cg.split('\n\n');
  t.is(self.trim(), one.trim(), 'the exec\'d process is in PID 1\'s cgroups');
  await ok(inB(['rm', '-f', id]), 'rm -f from B');
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'PID 1 was killed');
  t.deepEqual(cgroupsFor([id]), [], 'no cgroup left');

  // A start killed in A, rolled back by a command in B.
  const killed = await inA(['run', '--network', 'none', 'busybox', 'sleep', '300'], { env: { SKIFF_FAULT: 'cgroup-ready' } });
  t.is(killed.code, 137, 'the start died of SIGKILL');
  const ids = h.containerIds();
  t.true(cgroupsFor(ids).length > 0, 'the killed start had made its cgroup');
  await ok(inB(['ps', '-a']), 'ps from B');
  t.deepEqual(cgroupsFor(ids), [], 'the rollback found the cgroup beneath A');
});
