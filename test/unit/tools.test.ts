// The shared "needs tool X (apt package Y)" rule of the test harness.
import test from 'ava';
import { hasTool, missingTools } from '../integration/_tools.js';

test('missingTools names each missing program and the apt-get line that installs it', (t) => {
  t.true(hasTool('sh'));
  t.false(hasTool('skiff-no-such-tool'));
  t.is(missingTools({ sh: 'dash' }), undefined);
  t.is(missingTools({ sh: 'dash', 'skiff-no-such-tool': 'skiff-pkg' }), 'skiff-no-such-tool is not installed (apt-get install -y skiff-pkg)');
  t.is(missingTools({ 'skiff-no-a': 'p1', 'skiff-no-b': 'p1', 'skiff-no-c': 'p2' }), 'skiff-no-a, skiff-no-b, skiff-no-c are not installed (apt-get install -y p1 p2)');
  // An absolute path stands for a package that installs no program (a plugin).
  t.true(hasTool('/bin/sh'));
  t.is(missingTools({ '/skiff/no/such/file': 'plugin-pkg' }), '/skiff/no/such/file is not installed (apt-get install -y plugin-pkg)');
});

test('npm exports of node_modules/.bin do not count: programs are looked up in the system directories', (t) => {
  // Under npm, PATH starts with node_modules/.bin; `esbuild` lives only there.
  t.false(hasTool('esbuild'));
});
