// Docker's `cp` rules: which argument is the container's, and where a copy lands.
import test from 'ava';
import { splitCpArg } from '../../runtime/cli/commands/cp.js';
import { cpPath, landing } from '../../runtime/container/cp.js';

test('CONTAINER:PATH, unless the argument starts with / or . (a host path, colons and all)', (t) => {
  t.deepEqual(splitCpArg('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
  t.deepEqual(splitCpArg('web:'), { container: 'web', path: '' });
  t.deepEqual(splitCpArg('/tmp/a:b'), { path: '/tmp/a:b' });
  t.deepEqual(splitCpArg('./a:b'), { path: './a:b' });
  t.deepEqual(splitCpArg('file'), { path: 'file' });
  t.deepEqual(splitCpArg('-'), { path: '-' });
});

test('where a copy lands: into an existing directory, under a new name, over a file, or the contents with dir/.', (t) => {
  const file = { isDir: false, contents: false, base: 'f' };
  const dir = { isDir: true, contents: false, base: 'd' };
  const contents = { isDir: true, contents: true, base: 'd' };
  t.deepEqual(landing(file, cpPath('/tmp'), { exists: true, isDir: true }), { dir: '/tmp', name: 'f' });
  t.deepEqual(landing(file, cpPath('/tmp/new'), { exists: false }), { dir: '/tmp', name: 'new' });
  t.deepEqual(landing(file, cpPath('/tmp/old'), { exists: true, isDir: false }), { dir: '/tmp', name: 'old' });
  t.deepEqual(landing(dir, cpPath('/tmp'), { exists: true, isDir: true }), { dir: '/tmp', name: 'd' });
  t.deepEqual(landing(dir, cpPath('/tmp/new'), { exists: false }), { dir: '/tmp', name: 'new' });
  t.deepEqual(landing(contents, cpPath('/tmp'), { exists: true, isDir: true }), { dir: '/tmp', name: '.' });
  t.throws(() => landing(dir, cpPath('/tmp/old'), { exists: true, isDir: false }), { message: /cannot copy a directory to a file/ });
  t.throws(() => landing(file, cpPath('/tmp/new/'), { exists: false }), { message: /destination directory \/tmp\/new does not exist/ });
  t.throws(() => landing(file, cpPath('/tmp/old/'), { exists: true, isDir: false }), { message: /is not a directory/ });
  t.throws(() => landing({ ...file, contents: true }, cpPath('/tmp'), { exists: true, isDir: true }), { message: /source is not a directory/ });
});
