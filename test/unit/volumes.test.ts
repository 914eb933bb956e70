import test from 'ava';
import { absoluteBindSource } from '../../runtime/cli/container-options.js';
import { isAnonymousVolume, parseVolume } from '../../runtime/container/security.js';
import { bindVolumeName, checkVolumeName } from '../../runtime/volume/store.js';

test('volume names follow Docker\'s [a-zA-Z0-9][a-zA-Z0-9_.-]+', (t) => {
  for (const ok of ['data', 'a1', 'my_vol.v-2', '0abc', 'A.B']) t.notThrows(() => checkVolumeName(ok), ok);
  for (const bad of ['', 'x', '_data', '.hidden', '-x', 'a/b', 'bad$', 'sp ace', 'a:b']) {
    t.throws(() => checkVolumeName(bad), { message: /includes invalid characters for a local volume name/ }, bad);
  }
});

test('-v: a source without a leading / or . names a volume', (t) => {
  t.is(bindVolumeName('data:/d'), 'data');
  t.is(bindVolumeName('/host:/d'), undefined);
  t.is(bindVolumeName('./rel:/d'), undefined);
  const v = parseVolume('data:/d/../e:ro');
  t.is(v.volume, 'data');
  t.is(v.target, '/e');
  t.true(v.readonly);
  t.regex(v.source, /\/volumes\/data\/_data$/);
  t.deepEqual(parseVolume('/h//x:/c'), { source: '/h/x', target: '/c', readonly: false });
  // `-v /path` alone is an anonymous volume: create names it (random hex) before anything parses it.
  t.true(isAnonymousVolume('/anon'));
  t.false(isAnonymousVolume('data:/d'));
  t.false(isAnonymousVolume('rel'));
  t.true(isAnonymousVolume('/anon:ro'), 'the API\'s read-only anonymous mount');
  t.throws(() => parseVolume('/anon'), { message: /an anonymous volume is named at create/ });
  t.throws(() => parseVolume('data'), { message: /use HOST:CONTAINER\[:ro\] or NAME:CONTAINER\[:ro\]/ });
  t.throws(() => parseVolume('./rel:/d'), { message: /the host path must be absolute/ });
  t.throws(() => parseVolume('data:rel'), { message: /mount path must be absolute/ });
  t.throws(() => parseVolume('data:/d:rx'), { message: /invalid mode: rx/ });
  t.throws(() => parseVolume('b@d:/d'), { message: /includes invalid characters/ });
});

test('-v ./rel and ../rel are made absolute from the working directory, as Docker\'s CLI does; names and absolute paths stay', (t) => {
  const cwd = process.cwd();
  t.is(absoluteBindSource('./data:/d:ro'), `${cwd}/data:/d:ro`);
  t.is(absoluteBindSource('.:/src'), `${cwd}:/src`);
  t.is(absoluteBindSource('../up:/u'), `${cwd.replace(/\/[^/]*$/, '') || '/'}/up:/u`);
  for (const same of ['data:/d', '/abs:/d', '/anon', '.hidden:/d']) t.is(absoluteBindSource(same), same);
});
