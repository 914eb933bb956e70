// Shared by the integration tests: each test gets its own SKIFF_ROOT with the
// busybox fixture loaded, runs the real CLI as a child process, and removes
// everything it made in a teardown that also runs when the test fails.
import test, { type ExecutionContext } from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Tools, withTools } from './_tools.js';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..', '..'); // dist/test/integration -> repo
// The bundle users run (package.json "bin"), not the plain tsc output.
// SKIFF_TEST_CLI points the tests at another bundle (PKG/dist/bin/main.cjs, with PKG/package.json beside it).
export const cli = process.env.SKIFF_TEST_CLI || join(repo, 'dist', 'bin', 'main.cjs');
export const fixtures = join(repo, 'rootfs-fixtures', 'out');

export const isRoot = process.getuid?.() === 0;
export const skipReason = !isRoot ? 'integration tests need root (they create namespaces, mounts and cgroups)' : undefined;

/**
 * A root-only integration test; without root it is skipped and says why.
 * `tools` names the programs it runs besides skiff ({ getfattr: 'attr' }): see _tools.ts.
 */
export function it(title: string, fn: (t: ExecutionContext) => Promise<void>, tools: Tools = {}): void {
  withTools(test, tools, title, fn, skipReason);
}

export interface Result { code: number; stdout: string; stderr: string }

// A skiff command still running after this is killed. The VM lane raises it:
// under TCG on a busy machine, one command can take a minute.
const commandTimeoutMs = Number(process.env.SKIFF_TEST_TIMEOUT_MS) || 60_000;

export interface RunOpts { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number }

/**
 * Runs CMD ARGS to the end and collects its output (stdin: INPUT, then EOF);
 * killed after the timeout (exit 137). Never throws on a non-zero exit.
 */
export function runProcess(cmd: string, args: string[], opts: RunOpts & { cwd?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? commandTimeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 137, stdout, stderr });
    });
    // A command may end without reading its input (a refusal, a crash): its
    // exit status and output say so; the write's EPIPE is no error of the test's.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** A system tool by absolute path: under npm/npx, PATH starts with node_modules/.bin, whose `nft` is @vercel/nft. */
export function sysTool(name: string): string {
  return ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].map((d) => join(d, name)).find((f) => existsSync(f)) ?? name;
}

/** A bridge name and /24 subnet of the test's own, so that no test touches skiff0 or another test's bridge. */
export interface TestNet { bridge: string; subnet: string; gateway: string }

function usedSubnets(): string[] {
  const out: string[] = [];
  try {
    const routes = JSON.parse(execFileSync(sysTool('ip'), ['-4', '-j', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as Array<{ dst: string }>;
    for (const r of routes) out.push(r.dst);
  } catch {
    // no iproute2: skiff will say so when a test needs the bridge
  }
  try {
    for (const b of readdirSync('/run/skiff/net')) {
      try {
        out.push((JSON.parse(readFileSync(join('/run/skiff/net', b, 'state.json'), 'utf8')) as { subnet: string }).subnet);
      } catch {
        // not a bridge directory
      }
    }
  } catch {
    // no skiff bridge yet
  }
  return out;
}

const ipNum = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);

// Subnets handed out by testNet(), reserved as directories here: the tests of
// a file start together, and each picks its subnet before any of them has made
// its bridge (the first `run` does), so the host's routes alone did not stop
// two of them from picking the same /24 (a CI run failed with "overlaps the
// host route" of another test's bridge). mkdir is atomic across ava's workers.
const RESERVED = '/run/skiff-test-nets';
const reservedHere = new Set<string>();

function reserve(prefix: string): boolean {
  const dir = join(RESERVED, prefix);
  try {
    // RESERVED itself may be removed by another process's exit at any moment.
    for (;;) {
      try {
        mkdirSync(dir);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        mkdirSync(RESERVED, { recursive: true });
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Left by a run that was killed: after an hour, it is free again.
    try {
      if (Date.now() - statSync(dir).mtimeMs < 3_600_000) return false;
      utimesSync(dir, new Date(), new Date());
    } catch {
      return false;
    }
  }
  reservedHere.add(dir);
  return true;
}

/** Gives a testNet()'s subnet back (the harness does, after its teardown removed the bridge). */
export function releaseNet(net: TestNet): void {
  const dir = join(RESERVED, net.subnet.replace(/\.0\/24$/, ''));
  if (reservedHere.delete(dir)) rmSync(dir, { recursive: true, force: true });
}

process.on('exit', () => {
  for (const dir of reservedHere) rmSync(dir, { recursive: true, force: true });
  try {
    rmdirSync(RESERVED); // only when no other test process holds one
  } catch {
    // not empty, or gone
  }
});

/** A random 10.200-254.x.0/24 that no host route, skiff bridge or other test's reservation overlaps, and a bridge name "skt" + 8 hex digits. */
export function testNet(): TestNet {
  const used = usedSubnets().filter((d) => d !== 'default' && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(d)).map((d) => {
    const [a, len = '32'] = d.split('/');
    return { base: ipNum(a), prefix: Number(len) };
  });
  const overlaps = (base: number, prefix: number) => used.some((u) => {
    const p = Math.min(prefix, u.prefix);
    const block = 2 ** (32 - p);
    return Math.floor(base / block) === Math.floor(u.base / block);
  });
  for (;;) {
    const prefix = `10.${200 + randomInt(55)}.${randomInt(256)}`;
    if (overlaps(ipNum(`${prefix}.0`), 24) || !reserve(prefix)) continue;
    return { bridge: `skt${randomBytes(4).toString('hex')}`, subnet: `${prefix}.0/24`, gateway: `${prefix}.1` };
  }
}

/** What a test network left in the kernel and in skiff's host state: [] when nothing. */
export function netLeftovers(net: TestNet): string[] {
  const left: string[] = [];
  if (existsSync(`/sys/class/net/${net.bridge}`)) left.push(`bridge ${net.bridge}`);
  if (existsSync(join('/run/skiff/net', net.bridge))) left.push(`state /run/skiff/net/${net.bridge}`);
  try {
    execFileSync(sysTool('nft'), ['list', 'table', 'ip', `skiff-${net.bridge}`], { stdio: 'ignore' });
    left.push(`nft table ip skiff-${net.bridge}`);
  } catch {
    // absent, as it should be
  }
  return left;
}

/** Removes whatever netLeftovers reports, so a failed test leaves the machine clean. */
export function removeNet(net: TestNet): void {
  const quiet = { stdio: 'ignore' as const };
  try {
    execFileSync(sysTool('nft'), ['delete', 'table', 'ip', `skiff-${net.bridge}`], quiet);
  } catch {
    // absent
  }
  try {
    execFileSync(sysTool('ip'), ['link', 'del', net.bridge], quiet);
  } catch {
    // absent
  }
  rmSync(join('/run/skiff/net', net.bridge), { recursive: true, force: true });
}

export class Harness {
  constructor(readonly root: string, readonly net: TestNet = testNet()) {}

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, SKIFF_ROOT: this.root, SKIFF_BRIDGE: this.net.bridge, SKIFF_SUBNET: this.net.subnet, ...extra };
  }

  /** Runs `skiff ARGS` and collects its output. Never throws on a non-zero exit. */
  run(args: string[], opts: RunOpts = {}): Promise<Result> {
    // The launcher itself, as a user's `skiff` runs it: its hashbang is part of what is tested.
    return runProcess(cli, args, { ...opts, env: this.env(opts.env) });
  }

  /** Runs and requires exit 0; returns stdout. */
  async ok(t: ExecutionContext, args: string[], opts: RunOpts = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) t.fail(`skiff ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  containerIds(): string[] {
    try {
      return readdirSync(join(this.root, 'containers')).filter((d) => /^[0-9a-f]{64}$/.test(d));
    } catch {
      return [];
    }
  }
}

/** Mounts under `root` still present on the host. */
export function mountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((p) => p && p.startsWith(root));
}

/** Container cgroup directories that still exist for these ids, in any hierarchy. */
export function cgroupsFor(ids: string[]): string[] {
  if (ids.length === 0) return [];
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 8) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (ids.includes(e.name)) out.push(p);
      else walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return out;
}

let fixturesBuilt = false;
export function ensureFixtures(): void {
  if (fixturesBuilt && existsSync(join(fixtures, 'busybox.tar'))) return;
  execFileSync('bash', [join(repo, 'rootfs-fixtures', 'busybox.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  fixturesBuilt = true;
}

/**
 * A private root with `images` loaded (busybox by default). The teardown
 * force-removes every container, then checks and removes what is left.
 */
export async function harness(t: ExecutionContext, images: string[] = ['busybox']): Promise<Harness> {
  ensureFixtures();
  const root = mkdtempSync('/tmp/skiff-test-');
  // mkdtemp makes it 0700; container root under --userns-remap is an
  // unprivileged host uid that must be able to traverse it.
  chmodSync(root, 0o711);
  const h = new Harness(root);
  t.teardown(async () => {
    const ids = h.containerIds();
    if (ids.length) await h.run(['rm', '-f', ...ids]);
    // The test's own bridge, if it made one: `network prune` removes it; anything it could not, goes here.
    if (netLeftovers(h.net).length) {
      await h.run(['network', 'prune', '-f']);
      if (netLeftovers(h.net).length) removeNet(h.net);
    }
    releaseNet(h.net);
    // Belt and braces: whatever a failing test left, so the machine stays clean.
    for (const m of mountsUnder(root).reverse()) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        // already gone
      }
    }
    for (const cg of cgroupsFor(ids)) {
      try {
        rmdirSync(cg); // a cgroup goes with rmdir (its files cannot be unlinked)
      } catch {
        // busy or gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  });
  for (const img of images) {
    const r = await h.run(['load', '-q', '-i', join(fixtures, `${img}.tar`)]);
    if (r.code !== 0) throw new Error(`loading ${img}: ${r.stderr}`);
  }
  return h;
}
