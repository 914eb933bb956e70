// The test command behind `npm test`: builds the fixture images, runs ava in
// TAP mode on the compiled tests, and ends with the plain line CI reads:
// "N passed, N failed, N skipped". Exits non-zero if anything failed.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = spawnSync('bash', [join(repo, 'rootfs-fixtures', 'busybox.sh')], { stdio: 'inherit' });
if (fixtures.status !== 0) {
  console.log('fixture build failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const ava = spawn(process.execPath, [join(repo, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', ...process.argv.slice(2)], {
  cwd: repo, stdio: ['ignore', 'pipe', 'inherit'],
});
let passed = 0, failed = 0, skipped = 0, buf = '';
ava.stdout.on('data', (d) => {
  process.stdout.write(d);
  buf += d;
  const lines = buf.split('\n');
  buf = lines.pop();
  for (const l of lines) {
    if (/^not ok \d+/.test(l)) failed++;
    else if (/^ok \d+.*# SKIP/.test(l)) skipped++;
    else if (/^ok \d+/.test(l)) passed++;
  }
});
ava.on('close', (code) => {
  if (code !== 0 && failed === 0) failed = 1; // ava itself failed (e.g. a crashed worker)
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed ? 1 : 0);
});
