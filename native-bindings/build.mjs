// Compiles the C helper with the system cc. Runs from `npm install` (via the
// `prepare` script) and from `npm run build`; skips work when up to date.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const mtime = (p) => { try { return statSync(p).mtimeMs; } catch { return 0; } };
const self = fileURLToPath(import.meta.url);

// libskiff.so: loaded by Node through koffi.
// skiff-exec: a static executable, because it runs after pivot_root, where
// the host's dynamic loader and libc are not visible.
const targets = [
  { src: 'skiff-helper.c', out: 'libskiff.so', flags: ['-shared', '-fPIC'] },
  { src: 'skiff-exec.c', out: 'skiff-exec', flags: ['-static'] },
  // skiff-shim: what a detached monitor becomes (static: small and self-contained).
  { src: 'skiff-shim.c', out: 'skiff-shim', flags: ['-static'] },
  // libskiff-net.so: the bridge network's veth pairs over rtnetlink (loaded by runtime/network/netlink.ts).
  { src: 'skiff-netlink.c', out: 'libskiff-net.so', flags: ['-shared', '-fPIC'] },
];
for (const t of targets) {
  const src = join(here, t.src);
  const out = join(here, 'build', t.out);
  const headers = ['skiff-caps.h', 'skiff-path.h'].map((h) => join(here, h));
  if (mtime(out) >= mtime(src) && mtime(out) >= mtime(self) && headers.every((h) => mtime(out) >= mtime(h))) continue;
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', ...t.flags, '-o', out, src], { stdio: 'inherit' });
  console.log(`built ${out}`);
}
