// Numbers that reach C or the kernel are checked as decimal strings, so no
// value wraps (4294967296 would be uid 0 as a C uint32).
import test from 'ava';
import { parseId, parseIntIn, parseSignal, MAX_ID } from '../../runtime/util/numbers.js';
import { checkUserSpec, resolveUser } from '../../runtime/container/user.js';
import { joinDashValues } from '../../runtime/cli/split.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\nwrap:x:4294967296:0::/:/bin/sh\nblank:x::::/:/bin/sh\n';

test('ids: digits only, 0..2147483647, exact for any length', (t) => {
  t.is(parseId('0', 'user'), 0);
  t.is(parseId(String(MAX_ID), 'user'), MAX_ID);
  for (const bad of ['2147483648', '4294967296', '99999999999999', '18446744073709551616', '-1', '1e3', '0x10', ' 1']) {
    t.throws(() => parseId(bad, 'user'), { message: /invalid user/ }, bad);
  }
});

test('user specs: the numeric parts of user and group are checked before any lookup', (t) => {
  for (const spec of ['4294967296', '0:4294967296', '4294967296:0', '2147483648', 'root:99999999999']) {
    t.throws(() => checkUserSpec(spec), { message: /uids and gids must be in range 0-2147483647/ }, spec);
    t.throws(() => resolveUser(spec, passwd, ''), { message: /uids and gids must be in range/ }, spec);
  }
  t.throws(() => checkUserSpec('a:b:c'), { message: /invalid user/ });
  t.notThrows(() => checkUserSpec('2147483647:2147483647'));
});

test('passwd entries whose ids C cannot hold (or that are blank) are not used', (t) => {
  t.throws(() => resolveUser('wrap', passwd, ''), { message: /unable to find user wrap/ });
  t.throws(() => resolveUser('blank', passwd, ''), { message: /unable to find user blank/ });
});

test('signals: names and 1..64 only', (t) => {
  t.is(parseSignal('KILL'), 9);
  t.is(parseSignal('sigterm'), 15);
  t.is(parseSignal('64'), 64);
  for (const bad of ['0', '65', '99999', '4294967305', '-9', 'FOO', '']) t.throws(() => parseSignal(bad), { message: /invalid signal/ }, bad);
});

test('bounded integers: exact bounds, no floats or exponents', (t) => {
  t.is(parseIntIn('65535', 0, 65535, 'port'), 65535);
  for (const bad of ['65536', '1e3', '1.5', '', '99999999999999999999']) t.throws(() => parseIntIn(bad, 0, 65535, 'port'), { message: /invalid port/ }, bad);
});

test('a flag value that starts with "-" stays the value (-m -5m, --name -x)', (t) => {
  const values = new Set(['m', 'memory', 'name', 'e']);
  t.deepEqual(joinDashValues(['-m', '-5m', '--name', '-x', '-i', 'img'], values), ['-m=-5m', '--name=-x', '-i', 'img']);
  t.deepEqual(joinDashValues(['-e', 'A=1', '-m', '1g'], values), ['-e', 'A=1', '-m', '1g']);
});
