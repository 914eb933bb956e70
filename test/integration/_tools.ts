// One rule for tests that need a program skiff itself does not need (skopeo,
// getfattr, …): the test runs when its own tools are installed, and otherwise
// is skipped with the reason and the apt-get line. Under CI=true a missing tool
// is a failure, so CI cannot pass by skipping. `bash test/deps.sh test` installs
// them all (test/run.mjs runs it first when it is root).
import test, { type ExecutionContext, type TestFn } from 'ava';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';

/** Program name (or an absolute path the package installs) -> the Debian package that ships it. */
export type Tools = Record<string, string>;

// Fixed directories, not PATH: under npm, PATH starts with node_modules/.bin (whose `nft` is @vercel/nft).
const DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function hasTool(name: string): boolean {
  if (name.startsWith('/')) return existsSync(name);
  return DIRS.some((d) => {
    try {
      accessSync(join(d, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why these tools cannot be used ("skopeo is not installed (apt-get install -y skopeo)"), or undefined when all are there. */
export function missingTools(tools: Tools): string | undefined {
  const gone = Object.entries(tools).filter(([tool]) => !hasTool(tool));
  if (gone.length === 0) return undefined;
  const names = gone.map(([tool]) => tool).join(', ');
  const pkgs = [...new Set(gone.map(([, pkg]) => pkg))].join(' ');
  return `${names} ${gone.length === 1 ? 'is' : 'are'} not installed (apt-get install -y ${pkgs})`;
}

export const inCI = process.env.CI === 'true';

type Body = (t: ExecutionContext) => void | Promise<void>;

/**
 * Registers `title` on `base` (test, test.serial) when `tools` are installed; otherwise
 * skips it saying why, or under CI=true registers a failing test that says why.
 * `alsoSkip` is a reason that applies to every test of a file (e.g. "needs root"); it always skips.
 */
export function withTools(base: TestFn | TestFn['serial'], tools: Tools, title: string, fn: Body, alsoSkip?: string): void {
  if (alsoSkip) {
    base.skip(`${title} (skipped: ${alsoSkip})`, fn);
    return;
  }
  const why = missingTools(tools);
  if (!why) base(title, fn);
  else if (inCI) base(title, (t) => t.fail(`${why}; CI must install every test tool (bash test/deps.sh test)`));
  else base.skip(`${title} (skipped: ${why})`, fn);
}

/** `needs({ getfattr: 'attr' })('title', fn)`: a test that needs those programs. */
export function needs(tools: Tools, base: TestFn | TestFn['serial'] = test): (title: string, fn: Body) => void {
  return (title, fn) => withTools(base, tools, title, fn);
}
