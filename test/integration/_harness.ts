// Shared by the integration tests: each test gets its own SKIFF_ROOT with the
// busybox fixture loaded, runs the real CLI as a child process, and removes
// everything it made in a teardown that also runs when the test fails.
import test, { type ExecutionContext } from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..', '..'); // dist/test/integration -> repo
// The bundle users run (package.json "bin"), not the plain tsc output.
export const cli = join(repo, 'dist', 'bin', 'main.mjs');
export const fixtures = join(repo, 'rootfs-fixtures', 'out');

export const isRoot = process.getuid?.() === 0;
export const skipReason = !isRoot ? 'integration tests need root (they create namespaces, mounts and cgroups)' : undefined;

/** A root-only integration test; without root it is skipped and says why. */
export function it(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  if (skipReason) test.skip(`${title} (skipped: ${skipReason})`, fn);
  else test(title, fn);
}

export interface Result { code: number; stdout: string; stderr: string }

export interface RunOpts { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number }

export class Harness {
  constructor(readonly root: string) {}

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, SKIFF_ROOT: this.root, ...extra };
  }

  /** Runs `skiff ARGS` and collects its output. Never throws on a non-zero exit. */
  run(args: string[], opts: RunOpts = {}): Promise<Result> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [cli, ...args], { env: this.env(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? 128 + (signal ? 9 : 0), stdout, stderr });
      });
      child.stdin.end(opts.input ?? '');
    });
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
        rmSync(cg, { recursive: false });
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
