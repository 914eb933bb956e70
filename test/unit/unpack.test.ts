import test from 'ava';
import { classifyEntry, safeRelative } from '../../runtime/image/unpack.js';
import { normalizeReference, parseReference } from '../../runtime/image/reference.js';
import { secureJoin } from '../../runtime/sandbox/securejoin.js';
import { mkdtempSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

test('whiteout entries become overlay whiteouts or opaque markers', (t) => {
  t.deepEqual(classifyEntry('etc/.wh.passwd'), { kind: 'whiteout', path: 'etc/passwd' });
  t.deepEqual(classifyEntry('./.wh.top'), { kind: 'whiteout', path: 'top' });
  t.deepEqual(classifyEntry('opt/stuff/.wh..wh..opq'), { kind: 'opaque', dir: 'opt/stuff' });
  t.deepEqual(classifyEntry('.wh..wh..opq'), { kind: 'opaque', dir: '' });
  t.deepEqual(classifyEntry('usr/bin/'), { kind: 'entry', path: 'usr/bin' });
  t.throws(() => classifyEntry('etc/.wh.'), { message: /invalid whiteout/ });
});

test('entry names cannot escape the layer', (t) => {
  t.is(safeRelative('/etc/passwd'), 'etc/passwd');
  t.is(safeRelative('a/../b'), 'b');
  t.throws(() => safeRelative('../etc/passwd'), { message: /escapes the layer/ });
  t.throws(() => safeRelative('a/../../x'), { message: /escapes the layer/ });
});

test('references follow Docker grammar', (t) => {
  t.is(normalizeReference('busybox'), 'busybox:latest');
  t.is(normalizeReference('ouruser/sinatra:v2'), 'ouruser/sinatra:v2');
  t.is(normalizeReference('docker.io/library/busybox'), 'busybox:latest');
  t.is(normalizeReference('docker.io/skopeo/layered:docker'), 'skopeo/layered:docker');
  t.is(normalizeReference('127.0.0.1:5000/library/busybox:1'), '127.0.0.1:5000/library/busybox:1');
  t.deepEqual(parseReference('localhost:5000/a/b:1'), { domain: 'localhost:5000', path: 'a/b', tag: '1', digest: undefined });
  t.throws(() => parseReference('Busybox'), { message: /must be lowercase/ });
  t.throws(() => parseReference('a:b:c'), { message: /invalid reference format/ });
});

test('secureJoin keeps symlinks inside the root', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sj-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'real'));
  symlinkSync('/etc', join(root, 'data'));
  symlinkSync('../../../../..', join(root, 'up'));
  symlinkSync('real', join(root, 'rel'));
  t.is(secureJoin(root, '/data/hosts'), join(root, 'etc/hosts'));
  t.is(secureJoin(root, '/up/etc'), join(root, 'etc'));
  t.is(secureJoin(root, '../../x'), join(root, 'x'));
  t.is(secureJoin(root, '/rel/f'), join(root, 'real/f'));
});
