// State files: written whole or not at all (util/json.ts), and random ids (util/random.ts).
import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../../runtime/util/json.js';
import { randomHex } from '../../runtime/util/random.js';

const scratch = (t: { teardown(fn: () => void): void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-json-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test('a state file is replaced whole, with exactly its mode, and no temp file stays', (t) => {
  const dir = scratch(t);
  const file = join(dir, 'state.json');
  writeFileSync(file, '{"old":true}\n');
  const umask = process.umask(0o077);
  try {
    writeJsonAtomic(file, { new: [1, 2] }, 0o644);
  } finally {
    process.umask(umask);
  }
  t.deepEqual(readJson(file), { new: [1, 2] });
  t.is(statSync(file).mode & 0o777, 0o644);
  t.deepEqual(readdirSync(dir), ['state.json']);
});

test('a write that fails leaves the old file and no temp file', (t) => {
  const dir = scratch(t);
  const file = join(dir, 'state.json');
  writeJsonAtomic(file, { fine: 1 });
  // rename(2) onto a directory fails after the temp file was written.
  const taken = join(dir, 'taken');
  mkdirSync(join(taken, 'inside'), { recursive: true });
  t.throws(() => writeJsonAtomic(taken, { x: 1 }), { code: 'EISDIR' });
  t.throws(() => writeJsonAtomic(join(dir, 'missing', 'x.json'), {}), { code: 'ENOENT' });
  // JSON.stringify fails once the temp file is open.
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.throws(() => writeJsonAtomic(file, cyclic), { instanceOf: TypeError });
  t.deepEqual(readJson(file), { fine: 1 });
  t.is(readFileSync(file, 'utf8'), '{\n  "fine": 1\n}\n');
  t.deepEqual(readdirSync(dir).sort(), ['state.json', 'taken']);
});

test('random ids are 64 hex digits and differ', (t) => {
  const a = randomHex(32);
  const b = randomHex(32);
  t.regex(a, /^[0-9a-f]{64}$/);
  t.not(a, b);
  t.regex(randomHex(6), /^[0-9a-f]{12}$/);
});
