// The test command behind `npm test`: installs the tests' system packages
// (test/deps.sh test, when root), builds the fixture images, runs ava in TAP
// mode on the compiled tests and, for the full suite, the cgroup-v2 VM lane
// (test/vm/run.sh) after it. Ends with the plain line CI reads:
// "N passed, N failed, N skipped", the VM lane's counts folded in.
// Exits non-zero if anything failed.
//   node test/run.mjs [AVA ARGS…]   with arguments (a subset of files), no VM lane
// SKIFF_VM_LANE=0 leaves the VM lane out (counted as one skip); =1 runs it with arguments too;
// SKIFF_VM_PARALLEL=1 runs it beside ava instead of after it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const ci = process.env.CI === 'true';
const isRoot = process.getuid?.() === 0;

// skopeo (containers/image) keeps root's blob-info cache in /var/lib/containers
// whatever its other paths say; the tests that run it cannot point it
// elsewhere, so the run removes it again when it made it.
const containersDir = '/var/lib/containers';
const containersDirFound = existsSync(containersDir);

function finish(passed, failed, skipped) {
  if (isRoot && !containersDirFound) rmSync(containersDir, { recursive: true, force: true });
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed ? 1 : 0);
}

if (isRoot) {
  const deps = spawnSync('bash', [join(repo, 'test', 'deps.sh'), 'test'], { stdio: 'inherit' });
  if (deps.status !== 0) {
    console.log('installing the test packages failed (bash test/deps.sh test)');
    finish(0, 1, 0);
  }
} else {
  const list = spawnSync('bash', [join(repo, 'test', 'deps.sh'), 'list', 'test'], { encoding: 'utf8' }).stdout.trim();
  console.log(`# not root: the system packages are not installed, and the integration tests skip (as root: apt-get install -y ${list})`);
}

const fixtures = spawnSync('bash', [join(repo, 'rootfs-fixtures', 'busybox.sh')], { stdio: 'inherit' });
if (fixtures.status !== 0) {
  console.log('fixture build failed');
  finish(0, 1, 0);
}

// TAP lines: "ok N …", "not ok N …", "ok N … # SKIP".
function counter() {
  const c = { passed: 0, failed: 0, skipped: 0 };
  c.line = (l) => {
    if (/^not ok \d+/.test(l)) c.failed++;
    else if (/^ok \d+.*# SKIP/.test(l)) c.skipped++;
    else if (/^ok \d+/.test(l)) c.passed++;
  };
  return c;
}

function runAva() {
  return new Promise((resolve) => {
    const ava = spawn(process.execPath, [join(repo, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', ...args], {
      cwd: repo, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const c = counter();
    let buf = '';
    ava.stdout.on('data', (d) => {
      process.stdout.write(d);
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      lines.forEach(c.line);
    });
    ava.on('close', (code) => {
      if (buf) c.line(buf);
      if (code !== 0 && c.failed === 0) c.failed = 1; // ava itself failed (e.g. a crashed worker)
      resolve(c);
    });
  });
}

// The VM lane prints its guest's console and ends with the guest's "N passed, N failed, N skipped".
// With `quiet` its output is kept and printed when it ends (it runs beside ava then).
function runVmLane(quiet = false) {
  return new Promise((resolve) => {
    const vm = spawn('bash', [join(repo, 'test', 'vm', 'run.sh')], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const show = (d) => (quiet ? undefined : process.stdout.write(d));
    vm.stdout.on('data', (d) => {
      show(d);
      out += d;
    });
    vm.stderr.on('data', (d) => {
      show(d);
      out += d;
    });
    vm.on('close', (code) => {
      const result = () => {
        const counts = [...out.matchAll(/^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm)].pop();
        if (code === 77) {
          // The lane cannot run here: one skipped test, or a failure under CI, which installs qemu and the kernel.
          const reason = out.trim().split('\n').pop();
          console.log(ci ? `not ok - VM lane: ${reason} (CI must run it)` : `ok - VM lane # SKIP ${reason}`);
          return ci ? { passed: 0, failed: 1, skipped: 0 } : { passed: 0, failed: 0, skipped: 1 };
        }
        if (!counts) return { passed: 0, failed: 1, skipped: 0 };
        const r = { passed: Number(counts[1]), failed: Number(counts[2]), skipped: Number(counts[3] ?? 0) };
        if (code !== 0 && r.failed === 0) r.failed = 1; // e.g. the guest was not on cgroup2fs
        return r;
      };
      resolve({ out, result });
    });
  });
}

const lane = process.env.SKIFF_VM_LANE;
const wantLane = lane !== '0' && !process.env.SKIFF_IN_VM && (lane === '1' || args.length === 0);
// SKIFF_VM_PARALLEL=1 boots the VM while ava runs (faster on an idle machine with spare cores; on 2 busy cores it slows both).
const parallel = wantLane && process.env.SKIFF_VM_PARALLEL === '1';
const early = parallel ? runVmLane(true) : undefined;
if (parallel) console.log('# cgroup-v2 VM lane started beside ava (bash test/vm/run.sh); its output follows ava\'s');

const host = await runAva();
let vm = { passed: 0, failed: 0, skipped: 0 };
if (lane === '0') {
  console.log('ok - VM lane # SKIP SKIFF_VM_LANE=0');
  vm.skipped = 1;
} else if (wantLane) {
  const t0 = Date.now();
  if (!parallel) console.log('\n# cgroup-v2 VM lane: bash test/vm/run.sh');
  const done = await (early ?? runVmLane());
  if (parallel) process.stdout.write(`\n# cgroup-v2 VM lane (waited ${Math.round((Date.now() - t0) / 1000)} s after ava)\n${done.out}`);
  vm = done.result();
}
finish(host.passed + vm.passed, host.failed + vm.failed, host.skipped + vm.skipped);
