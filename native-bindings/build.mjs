// Compiles the C helper with the system cc. Runs from `npm install` (via the
// `prepare` script) and from `npm run build`; skips work when up to date.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'skiff-helper.c');
const out = join(here, 'build', 'libskiff.so');
const mtime = (p) => { try { return statSync(p).mtimeMs; } catch { return 0; } };

if (mtime(out) < mtime(src) || mtime(out) < mtime(fileURLToPath(import.meta.url))) {
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', '-o', out, src], { stdio: 'inherit' });
  console.log(`built ${out}`);
}
