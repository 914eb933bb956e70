import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import {
  applyLimits,
  cgroupView,
  containerCgroup,
  createCgroup,
  destroyCgroup,
  detectLayout,
  freezeCgroup,
  freezerState,
  freezerStateIn,
  joinCgroup,
  listPids,
  memoryUsage,
  oomKilled,
  parseCpus,
  parseMemorySize,
  parseMountinfo,
  parseProcCgroup,
  planLimits,
  recordedCgroup,
  sharesToWeight,
  thawCgroup,
  type CgroupLayout,
  type ContainerCgroup,
} from '../../runtime/cgroups/index.js';
import {
  HYBRID_OWN_MEMORY,
  LEGACY_OWN,
  hybridHost,
  legacyHost,
  nestedUnifiedHost,
  readFile,
  unifiedHost,
  writeFiles,
  type FakeHost,
} from './_fake-cgroupfs.js';

const MiB = 1024 * 1024;

function setup(t: ExecutionContext, make: () => FakeHost): { host: FakeHost; layout: CgroupLayout } {
  const host = make();
  t.teardown(host.cleanup);
  return { host, layout: detectLayout(host.procSelfCgroup, host.mountinfo, host.root) };
}

/** Stands in for the kernel, which fills a new cgroup directory with its files. */
function fillDirs(cg: ContainerCgroup, files: Record<string, string>): void {
  for (const h of cg.hierarchies) writeFiles(h.dir, files);
}

// ---- detection ----

test('parseProcCgroup keeps colons in paths and splits co-mounted controllers', (t) => {
  t.deepEqual(parseProcCgroup('3:cpu,cpuacct:/a:b\n0::/\n'), [
    { id: 3, controllers: ['cpu', 'cpuacct'], path: '/a:b' },
    { id: 0, controllers: [], path: '/' },
  ]);
});

test('parseMountinfo finds cgroup mounts past optional fields and unescapes paths', (t) => {
  const text =
    '22 1 0:5 / /proc rw - proc proc rw\n' +
    '30 24 0:26 /sub\\040dir /mnt/my\\040cg rw,relatime shared:4 master:1 - cgroup cgroup rw,memory\n' +
    '31 24 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
  t.deepEqual(parseMountinfo(text), [
    { version: 1, root: '/sub dir', mountPoint: '/mnt/my cg', superOptions: ['rw', 'memory'] },
    { version: 2, root: '/', mountPoint: '/sys/fs/cgroup', superOptions: ['rw'] },
  ]);
});

test('detects this machine: hybrid, every controller from v1, nested memory cgroup', (t) => {
  const { host, layout } = setup(t, hybridHost);
  const fsc = path.join(host.root, 'sys/fs/cgroup');
  t.is(layout.mode, 'hybrid');
  t.deepEqual(layout.v2, {
    version: 2,
    mountPoint: path.join(fsc, 'unified'),
    ownDir: path.join(fsc, 'unified'),
    available: ['hugetlb'],
    delegatable: ['hugetlb'],
  });
  t.deepEqual(layout.controllers, {
    memory: { version: 1, mountPoint: path.join(fsc, 'memory'), ownDir: path.join(fsc, 'memory', HYBRID_OWN_MEMORY) },
    cpu: { version: 1, mountPoint: path.join(fsc, 'cpu'), ownDir: path.join(fsc, 'cpu') },
    pids: { version: 1, mountPoint: path.join(fsc, 'pids'), ownDir: path.join(fsc, 'pids') },
    freezer: { version: 1, mountPoint: path.join(fsc, 'freezer'), ownDir: path.join(fsc, 'freezer') },
    devices: { version: 1, mountPoint: path.join(fsc, 'devices'), ownDir: path.join(fsc, 'devices') },
  });
});

test('detects pure v2: controllers from cgroup.controllers, freezer from v2, no devices', (t) => {
  const { host, layout } = setup(t, unifiedHost);
  const v2 = { version: 2, mountPoint: path.join(host.root, 'sys/fs/cgroup'), ownDir: path.join(host.root, 'sys/fs/cgroup') };
  t.is(layout.mode, 'unified');
  t.deepEqual(layout.controllers, { memory: v2, cpu: v2, pids: v2, freezer: v2 });
  t.true(layout.v2?.available.includes('memory'));
});

test('detects v2 mounted with a non-/ root: own dir strips the mount root, controllers from own cgroup', (t) => {
  const { host, layout } = setup(t, nestedUnifiedHost);
  const own = path.join(host.root, 'sys/fs/cgroup/runner');
  t.is(layout.mode, 'unified');
  t.is(layout.controllers.memory?.ownDir, own);
  t.is(layout.controllers.pids?.ownDir, own);
  t.is(layout.controllers.cpu, undefined, 'cpu is not delegated to our cgroup');
  t.deepEqual(layout.v2?.available, ['memory', 'pids']);
});

test('a process in <own>/skiff-leaf (moved there for v2\'s no-internal-processes rule) still places containers under <own>', (t) => {
  const host = unifiedHost();
  t.teardown(() => host.cleanup());
  const layout = detectLayout('0::/skiff-leaf\n', host.mountinfo, host.root);
  const fsc = path.join(host.root, 'sys/fs/cgroup');
  t.is(layout.controllers.memory?.ownDir, fsc);
  t.is(containerCgroup(layout, 'c1').dirs.memory, path.join(fsc, 'skiff/c1'));
});

test('cgroupView: v2 shows the container dir itself; v1 one dir per hierarchy, with aliases for co-mounts', (t) => {
  const v2 = setup(t, unifiedHost);
  t.deepEqual(cgroupView(containerCgroup(v2.layout, 'c1')), { unified: path.join(v2.host.root, 'sys/fs/cgroup/skiff/c1') });
  const v1 = setup(t, legacyHost);
  const view = cgroupView(containerCgroup(v1.layout, 'c1'));
  t.deepEqual(view.hierarchies?.map((h) => h.name), ['memory', 'cpu,cpuacct', 'pids', 'freezer', 'devices']);
  t.deepEqual(view.links, [{ name: 'cpu', to: 'cpu,cpuacct' }, { name: 'cpuacct', to: 'cpu,cpuacct' }]);
});

test('detects legacy v1 with cpu,cpuacct co-mounted', (t) => {
  const { host, layout } = setup(t, legacyHost);
  t.is(layout.mode, 'legacy');
  t.is(layout.v2, undefined);
  t.is(layout.controllers.cpu?.ownDir, path.join(host.root, 'sys/fs/cgroup/cpu,cpuacct', LEGACY_OWN));
  t.is(layout.controllers.memory?.ownDir, path.join(host.root, 'sys/fs/cgroup/memory', LEGACY_OWN));
  t.deepEqual(Object.keys(layout.controllers).sort(), ['cpu', 'devices', 'freezer', 'memory', 'pids']);
});

test('a cgroup path outside the mount root is not usable', (t) => {
  const mountinfo = '30 24 0:26 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n';
  t.throws(() => detectLayout('4:memory:/other\n', mountinfo, '/nonexistent'), { message: /no usable cgroup/ });
});

test('detection fails clearly without any cgroup mount', (t) => {
  t.throws(() => detectLayout('0::/\n', '22 1 0:5 / /proc rw - proc proc rw\n'), { message: /no usable cgroup/ });
});

// ---- create / join ----

test('creates skiff/<id> under the own cgroup of every v1 hierarchy (hybrid), and one in v2 for the device program', (t) => {
  const { host, layout } = setup(t, hybridHost);
  const cg = createCgroup(layout, 'c1');
  const fsc = path.join(host.root, 'sys/fs/cgroup');
  const expected = [
    path.join(fsc, 'memory', HYBRID_OWN_MEMORY, 'skiff/c1'),
    path.join(fsc, 'cpu/skiff/c1'),
    path.join(fsc, 'pids/skiff/c1'),
    path.join(fsc, 'freezer/skiff/c1'),
    path.join(fsc, 'devices/skiff/c1'),
    path.join(fsc, 'unified/skiff/c1'),
  ];
  t.deepEqual(cg.hierarchies.map((h) => h.dir), expected);
  for (const dir of expected) t.true(fs.statSync(dir).isDirectory(), dir);
  t.is(readFile(path.join(fsc, 'unified/cgroup.subtree_control')), '', 'no controller is enabled in the v2 tree of a hybrid host');
  t.false(fs.existsSync(path.join(fsc, 'cpuacct/skiff')));
  t.false(fs.existsSync(path.join(fsc, 'memory/skiff')), 'never at the hierarchy root');
});

test('v2: enables memory, cpu and pids in subtree_control of own cgroup and skiff/', (t) => {
  const { host, layout } = setup(t, unifiedHost);
  const cg = createCgroup(layout, 'c1');
  const fsc = path.join(host.root, 'sys/fs/cgroup');
  t.deepEqual(cg.hierarchies, [{ version: 2, mountPoint: fsc, parent: path.join(fsc, 'skiff'), dir: path.join(fsc, 'skiff/c1') }]);
  t.true(fs.statSync(path.join(fsc, 'skiff/c1')).isDirectory());
  t.is(readFile(path.join(fsc, 'cgroup.subtree_control')), '+memory +cpu +pids');
  t.is(readFile(path.join(fsc, 'skiff/cgroup.subtree_control')), '+memory +cpu +pids');
});

test('v2: writes only the controllers missing from subtree_control', (t) => {
  const { host, layout } = setup(t, nestedUnifiedHost);
  createCgroup(layout, 'c1');
  const own = path.join(host.root, 'sys/fs/cgroup/runner');
  t.is(readFile(path.join(own, 'cgroup.subtree_control')), '+pids', 'memory was already enabled');
  t.is(readFile(path.join(own, 'skiff/cgroup.subtree_control')), '+memory +pids');
});

test('create is idempotent and rejects ids that are not a single path component', (t) => {
  const { layout } = setup(t, legacyHost);
  createCgroup(layout, 'c1');
  t.notThrows(() => createCgroup(layout, 'c1'));
  for (const bad of ['', '..', '../x', 'a/b', '.hidden']) {
    t.throws(() => containerCgroup(layout, bad), { message: /invalid container id/ });
  }
});

test('a failed create removes the directories it made', (t) => {
  const { host, layout } = setup(t, legacyHost);
  fs.rmSync(path.join(host.root, 'sys/fs/cgroup/devices', LEGACY_OWN), { recursive: true });
  t.throws(() => createCgroup(layout, 'c1'), { message: /cannot create .*devices.*skiff: ENOENT/ });
  for (const h of containerCgroup(layout, 'c1').hierarchies) t.false(fs.existsSync(h.parent), h.parent);
});

test('join writes the pid to cgroup.procs in every hierarchy; listPids reads them back', (t) => {
  const { layout } = setup(t, hybridHost);
  const cg = createCgroup(layout, 'c1');
  fillDirs(cg, { 'cgroup.procs': '' });
  joinCgroup(cg, 4242);
  for (const h of cg.hierarchies) t.is(readFile(path.join(h.dir, 'cgroup.procs')), '4242');
  t.deepEqual(listPids(cg), [4242]);
});

test('join names the file when the write fails', (t) => {
  const { layout } = setup(t, hybridHost);
  const cg = createCgroup(layout, 'c1'); // no cgroup.procs: the fake kernel did not fill the dirs
  t.throws(() => joinCgroup(cg, 4242), { message: /cannot write '4242' to .*memory.*skiff\/c1\/cgroup\.procs: ENOENT/ });
});

// ---- limits ----

const ALL = { memory: 64 * MiB, memorySwap: 128 * MiB, nanoCpus: 1.5e9, cpuShares: 512, pidsLimit: 20 };

test('plan on v2: memory.max, memory.swap.max (swap part only), cpu.max, cpu.weight, pids.max', (t) => {
  const { layout } = setup(t, unifiedHost);
  t.deepEqual(planLimits(ALL, layout), [
    { controller: 'memory', file: 'memory.max', value: '67108864' },
    { controller: 'memory', file: 'memory.swap.max', value: '67108864', ifExists: true },
    { controller: 'cpu', file: 'cpu.max', value: '150000 100000' },
    { controller: 'cpu', file: 'cpu.weight', value: '20' },
    { controller: 'pids', file: 'pids.max', value: '20' },
  ]);
});

test('plan on v1: limit before memsw, period before quota, shares, pids', (t) => {
  const { layout } = setup(t, hybridHost);
  t.deepEqual(planLimits(ALL, layout), [
    { controller: 'memory', file: 'memory.limit_in_bytes', value: '67108864' },
    { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: '134217728', ifExists: true },
    { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
    { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '150000' },
    { controller: 'cpu', file: 'cpu.shares', value: '512' },
    { controller: 'pids', file: 'pids.max', value: '20' },
  ]);
});

test('swap follows Docker: unset = as much swap as memory, -1 = unlimited, equal = none', (t) => {
  const v2 = setup(t, unifiedHost).layout;
  const v1 = setup(t, legacyHost).layout;
  const swapV2 = (l: object) => planLimits(l, v2).find((w) => w.file === 'memory.swap.max')?.value;
  const swapV1 = (l: object) => planLimits(l, v1).find((w) => w.file === 'memory.memsw.limit_in_bytes')?.value;
  t.is(swapV2({ memory: 64 * MiB }), String(64 * MiB));
  t.is(swapV1({ memory: 64 * MiB }), String(128 * MiB));
  t.is(swapV2({ memory: 64 * MiB, memorySwap: -1 }), 'max');
  t.is(swapV1({ memory: 64 * MiB, memorySwap: -1 }), '-1');
  t.is(swapV2({ memory: 64 * MiB, memorySwap: 64 * MiB }), '0');
  t.is(swapV1({ memory: 64 * MiB, memorySwap: 64 * MiB }), String(64 * MiB));
  t.deepEqual(planLimits({}, v2), []);
  t.deepEqual(planLimits({ memory: 0, nanoCpus: 0, cpuShares: 0, pidsLimit: -1 }, v1), []);
});

test('cpu shares to weight matches runc/crun, with the kernel clamp', (t) => {
  t.is(sharesToWeight(2), 1);
  t.is(sharesToWeight(1024), 39);
  t.is(sharesToWeight(262144), 10000);
  t.is(sharesToWeight(1), 1);
  t.is(sharesToWeight(1_000_000), 10000);
  t.is(planLimits({ nanoCpus: 1e7 }, setup(t, unifiedHost).layout)[0].value, '1000 100000');
});

test('plan rejects what Docker rejects, and limits the host cannot enforce', (t) => {
  const { layout } = setup(t, nestedUnifiedHost);
  t.throws(() => planLimits({ memory: 64 * MiB, memorySwap: 32 * MiB }, layout), { message: /memoryswap limit should be larger/ });
  t.throws(() => planLimits({ memorySwap: 64 * MiB }, layout), { message: /always set the Memory limit/ });
  t.throws(() => planLimits({ memory: 1024 }, layout), { message: /Minimum memory limit allowed is 6MB/ });
  t.throws(() => planLimits({ nanoCpus: 1e6 }, layout), { message: /0\.01/ });
  t.throws(() => planLimits({ memory: 1.5 }, layout), { message: /not an integer/ });
  // The kernel has cpu (the mount root lists it), but our parent did not delegate it: name the file to fix.
  t.throws(() => planLimits({ nanoCpus: 1e9 }, layout), {
    message: /cpu controller is not delegated to skiff's cgroup .*\/runner; enable it with: echo \+cpu > .*\/sys\/fs\/cgroup\/cgroup.subtree_control$/,
  });
  t.notThrows(() => planLimits({ memory: 64 * MiB, pidsLimit: 5 }, layout));
});

test('apply writes the exact values into the container dirs (v2)', (t) => {
  const { layout } = setup(t, unifiedHost);
  const cg = createCgroup(layout, 'c1');
  const dir = cg.dirs.memory!;
  fillDirs(cg, { 'memory.max': 'max', 'memory.swap.max': 'max', 'cpu.max': 'max 100000', 'cpu.weight': '100', 'pids.max': 'max' });
  applyLimits(cg, planLimits(ALL, layout));
  t.is(readFile(path.join(dir, 'memory.max')), '67108864');
  t.is(readFile(path.join(dir, 'memory.swap.max')), '67108864');
  t.is(readFile(path.join(dir, 'cpu.max')), '150000 100000');
  t.is(readFile(path.join(dir, 'cpu.weight')), '20');
  t.is(readFile(path.join(dir, 'pids.max')), '20');
});

test('apply on v1 writes each controller in its own hierarchy and skips a missing memsw file', (t) => {
  const { layout } = setup(t, legacyHost);
  const cg = createCgroup(layout, 'c1');
  writeFiles(cg.dirs.memory!, { 'memory.limit_in_bytes': '' }); // no memsw: swap accounting off
  writeFiles(cg.dirs.cpu!, { 'cpu.cfs_period_us': '', 'cpu.cfs_quota_us': '', 'cpu.shares': '' });
  writeFiles(cg.dirs.pids!, { 'pids.max': '' });
  applyLimits(cg, planLimits(ALL, layout));
  t.regex(cg.dirs.cpu!, /cpu,cpuacct\/user\.slice\/session-1\.scope\/skiff\/c1$/);
  t.is(readFile(path.join(cg.dirs.memory!, 'memory.limit_in_bytes')), '67108864');
  t.false(fs.existsSync(path.join(cg.dirs.memory!, 'memory.memsw.limit_in_bytes')));
  t.is(readFile(path.join(cg.dirs.cpu!, 'cpu.cfs_period_us')), '100000');
  t.is(readFile(path.join(cg.dirs.cpu!, 'cpu.cfs_quota_us')), '150000');
  t.is(readFile(path.join(cg.dirs.cpu!, 'cpu.shares')), '512');
  t.is(readFile(path.join(cg.dirs.pids!, 'pids.max')), '20');
});

test('apply throws naming the file and value when a required file is missing', (t) => {
  const { layout } = setup(t, legacyHost);
  const cg = createCgroup(layout, 'c1');
  t.throws(() => applyLimits(cg, planLimits({ pidsLimit: 20 }, layout)), {
    message: /cannot write '20' to .*pids\/user\.slice\/session-1\.scope\/skiff\/c1\/pids\.max/,
  });
});

// ---- OOM and memory usage ----

test('OOM on v2: oom_kill in memory.events, not the oom counter', (t) => {
  const { layout } = setup(t, unifiedHost);
  const cg = createCgroup(layout, 'c1');
  const events = (oom: number, kill: number) => `low 0\nhigh 0\nmax 12\noom ${oom}\noom_kill ${kill}\noom_group_kill 0\n`;
  t.false(oomKilled(cg), 'no memory.events: not killed');
  writeFiles(cg.dirs.memory!, { 'memory.events': events(0, 0) });
  t.false(oomKilled(cg));
  writeFiles(cg.dirs.memory!, { 'memory.events': events(1, 0) });
  t.false(oomKilled(cg), 'reached the limit but nothing was killed');
  writeFiles(cg.dirs.memory!, { 'memory.events': events(1, 1) });
  t.true(oomKilled(cg));
});

test('OOM on v1: oom_kill line of memory.oom_control, or under_oom on old kernels; failcnt ignored', (t) => {
  const { layout } = setup(t, hybridHost);
  const cg = createCgroup(layout, 'c1');
  const dir = cg.dirs.memory!;
  writeFiles(dir, { 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n', 'memory.failcnt': '57\n' });
  t.false(oomKilled(cg));
  writeFiles(dir, { 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n' });
  t.true(oomKilled(cg));
  writeFiles(dir, { 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 1\n' });
  t.true(oomKilled(cg));
});

test('memory usage from memory.current (v2) and memory.usage_in_bytes (v1)', (t) => {
  const v2 = createCgroup(setup(t, unifiedHost).layout, 'c1');
  const v1 = createCgroup(setup(t, hybridHost).layout, 'c1');
  t.is(memoryUsage(v2), undefined);
  writeFiles(v2.dirs.memory!, { 'memory.current': '1234\n' });
  writeFiles(v1.dirs.memory!, { 'memory.usage_in_bytes': '5678\n' });
  t.is(memoryUsage(v2), 1234);
  t.is(memoryUsage(v1), 5678);
});

// ---- freezer ----

test('freeze and thaw through freezer.state on v1', (t) => {
  const { layout } = setup(t, hybridHost);
  const cg = createCgroup(layout, 'c1');
  writeFiles(cg.dirs.freezer!, { 'freezer.state': 'THAWED\n' });
  t.is(freezerState(cg), 'thawed');
  freezeCgroup(cg);
  t.is(readFile(path.join(cg.dirs.freezer!, 'freezer.state')), 'FROZEN');
  t.is(freezerState(cg), 'frozen');
  thawCgroup(cg);
  t.is(readFile(path.join(cg.dirs.freezer!, 'freezer.state')), 'THAWED');
});

test('freeze and thaw through cgroup.freeze on v2, waiting for cgroup.events', (t) => {
  const { layout } = setup(t, unifiedHost);
  const cg = createCgroup(layout, 'c1');
  const dir = cg.dirs.freezer!;
  writeFiles(dir, { 'cgroup.freeze': '0\n', 'cgroup.events': 'populated 1\nfrozen 1\n' });
  freezeCgroup(cg);
  t.is(readFile(path.join(dir, 'cgroup.freeze')), '1');
  thawCgroup(cg);
  t.is(readFile(path.join(dir, 'cgroup.freeze')), '0');

  writeFiles(dir, { 'cgroup.events': 'populated 1\nfrozen 0\n' });
  t.throws(() => freezeCgroup(cg, 20), { message: /did not freeze within 20 ms/ });
  t.is(readFile(path.join(dir, 'cgroup.freeze')), '0', 'thawed again after the timeout');
});

test('the freezer state from the recorded directories agrees with the layout', (t) => {
  // ps reads it from the directories a container recorded at start (Skiff.CgroupPaths).
  const hybrid = createCgroup(setup(t, hybridHost).layout, 'c1');
  const hybridDirs = hybrid.hierarchies.map((h) => h.dir);
  writeFiles(hybrid.dirs.freezer!, { 'freezer.state': 'FROZEN\n' });
  // cgroup2's directory says thawed: on a hybrid host the v1 freezer is the one skiff uses.
  writeFiles(hybrid.hierarchies.find((h) => h.version === 2)!.dir, { 'cgroup.freeze': '0\n', 'cgroup.events': 'frozen 0\n' });
  t.is(freezerState(hybrid), 'frozen');
  t.is(freezerStateIn(hybridDirs), 'frozen');
  writeFiles(hybrid.dirs.freezer!, { 'freezer.state': 'THAWED\n' });
  t.is(freezerStateIn(hybridDirs), freezerState(hybrid));

  const unified = createCgroup(setup(t, unifiedHost).layout, 'c1');
  const dirs = unified.hierarchies.map((h) => h.dir);
  t.is(freezerStateIn(dirs), undefined, 'no freezer files: the cgroup is gone');
  writeFiles(unified.dirs.freezer!, { 'cgroup.freeze': '1\n', 'cgroup.events': 'populated 1\nfrozen 0\n' });
  t.is(freezerStateIn(dirs), 'freezing');
  writeFiles(unified.dirs.freezer!, { 'cgroup.events': 'populated 1\nfrozen 1\n' });
  t.is(freezerStateIn(dirs), 'frozen');
  t.is(freezerState(unified), 'frozen');
});

test('a container\'s cgroup comes from its recorded directories, whatever cgroup the caller runs in', (t) => {
  for (const make of [hybridHost, unifiedHost, legacyHost]) {
    const { layout } = setup(t, make);
    const created = createCgroup(layout, 'c1');
    // The same host seen from another login session: every own dir is elsewhere.
    const other: CgroupLayout = structuredClone(layout);
    for (const h of [...Object.values(other.controllers), ...(other.v2 ? [other.v2] : [])]) h.ownDir = path.join(h.mountPoint, 'session-2.scope');
    t.notDeepEqual(containerCgroup(other, 'c1').hierarchies, created.hierarchies, `${make.name}: computing would look elsewhere`);
    const found = recordedCgroup(other, 'c1', created.hierarchies.map((h) => h.dir));
    t.deepEqual(found.dirs, created.dirs, `${make.name}: each controller's directory`);
    t.deepEqual(found.hierarchies, created.hierarchies, `${make.name}: each hierarchy's directory and parent`);
  }
});

// ---- removal ----

test('destroy removes the container dirs and the then-empty skiff/ parent, and is idempotent', (t) => {
  const { host, layout } = setup(t, hybridHost);
  const cg = createCgroup(layout, 'c1');
  destroyCgroup(cg);
  for (const h of cg.hierarchies) {
    t.false(fs.existsSync(h.dir), h.dir);
    t.false(fs.existsSync(h.parent), h.parent);
  }
  t.notThrows(() => destroyCgroup(cg));
  t.notThrows(() => destroyCgroup(containerCgroup(layout, 'never-created')));
  t.true(fs.existsSync(path.join(host.root, 'sys/fs/cgroup/memory', HYBRID_OWN_MEMORY)), 'own cgroup untouched');
});

test('destroy leaves skiff/ and other containers in place', (t) => {
  const { layout } = setup(t, legacyHost);
  const a = createCgroup(layout, 'a');
  const b = createCgroup(layout, 'b');
  destroyCgroup(a);
  for (const h of a.hierarchies) t.false(fs.existsSync(h.dir));
  for (const h of b.hierarchies) t.true(fs.existsSync(h.dir));
  destroyCgroup(b);
  for (const h of b.hierarchies) t.false(fs.existsSync(h.parent));
});

test('destroy on v2 removes the container dir (skiff/ stays while it holds files)', (t) => {
  const { layout } = setup(t, unifiedHost);
  const cg = createCgroup(layout, 'c1');
  destroyCgroup(cg);
  t.false(fs.existsSync(cg.dirs.memory!));
  t.notThrows(() => destroyCgroup(cg));
});

// ---- units ----

test('parseMemorySize accepts Docker spellings (binary multiples)', (t) => {
  const cases: [string, number][] = [
    ['12', 12],
    ['0', 0],
    ['12b', 12],
    ['512k', 512 * 1024],
    ['64m', 64 * MiB],
    ['64M', 64 * MiB],
    ['1g', 1024 * MiB],
    ['1.5g', 1536 * MiB],
    ['100mb', 100 * MiB],
    ['2GiB', 2048 * MiB],
    ['12KIB', 12 * 1024],
    ['1 g', 1024 * MiB],
    ['.5k', 512],
    ['5.k', 5 * 1024],
    ['1t', 1024 ** 4],
    ['2p', 2 * 1024 ** 5],
    ['1.0000001k', 1024],
  ];
  for (const [input, bytes] of cases) t.is(parseMemorySize(input), bytes, input);
});

test('parseMemorySize rejects junk with the input in the message', (t) => {
  t.throws(() => parseMemorySize('12zz'), { message: /^invalid size: '12zz': invalid suffix: 'zz'$/ });
  for (const bad of ['', 'm', '-1', '12bb', '12ki', '12kbb', '1..5', '1e3', ' 12', '12  m', '0x10', '99999p']) {
    t.throws(() => parseMemorySize(bad), { message: new RegExp(`^invalid size: '${bad.replace(/[.]/g, '\\.')}'`) }, bad);
  }
});

test('parseCpus converts decimal CPUs to nano CPUs exactly', (t) => {
  t.is(parseCpus('1.5'), 1_500_000_000);
  t.is(parseCpus('2'), 2_000_000_000);
  t.is(parseCpus('0.01'), 10_000_000);
  t.is(parseCpus('.5'), 500_000_000);
  t.is(parseCpus('0.000000001'), 1);
  t.is(parseCpus('3.10000000000'), 3_100_000_000);
  t.throws(() => parseCpus('abc'), { message: /invalid cpus: 'abc'/ });
  t.throws(() => parseCpus(''), { message: /invalid cpus/ });
  t.throws(() => parseCpus('.'), { message: /invalid cpus/ });
  t.throws(() => parseCpus('-1'), { message: /invalid cpus/ });
  t.throws(() => parseCpus('0.0000000001'), { message: /too precise/ });
});
