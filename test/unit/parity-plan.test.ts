// Issue 13 items decided as data: the mount plan's /dev/core, /etc/mtab and
// -t devpts, and the FORWARD accept rules.
import test from 'ava';
import { mountPlan } from '../../runtime/sandbox/mounts.js';
import { forwardAcceptRules } from '../../runtime/network/host.js';

const etc = { hostname: 'a', hosts: 'b', resolvConf: 'c' };

test('/dev/core links to /proc/kcore only when the host has it (runc\'s rule)', (t) => {
  t.false(mountPlan(etc, undefined, {}, {}, { kcore: false }).some((o) => o.target === '/dev/core'));
  t.deepEqual(mountPlan(etc, undefined, {}, {}, { kcore: true }).find((o) => o.target === '/dev/core'), { kind: 'symlink', target: '/dev/core', linkTo: '/proc/kcore' });
});

test('/etc/mtab links to /proc/mounts, after the /etc binds (which make /etc)', (t) => {
  const plan = mountPlan(etc);
  const targets = plan.map((o) => o.target);
  t.deepEqual(plan.find((o) => o.target === '/etc/mtab'), { kind: 'symlink', target: '/etc/mtab', linkTo: '/proc/mounts' });
  t.true(targets.indexOf('/etc/mtab') > targets.indexOf('/etc/hostname'));
});

test('with -t the devpts instance the terminal came from becomes /dev/pts, and its slave /dev/console', (t) => {
  const plan = mountPlan(etc, '/c/devpts/0', {}, {}, { devpts: '/c/devpts' });
  t.deepEqual(plan.find((o) => o.target === '/dev/pts'), { kind: 'bind', source: '/c/devpts', target: '/dev/pts', file: false });
  t.deepEqual(plan.find((o) => o.target === '/dev/console'), { kind: 'bind', source: '/c/devpts/0', target: '/dev/console', file: true });
  const plain = mountPlan(etc).find((o) => o.target === '/dev/pts');
  t.true(plain?.kind === 'fs' && plain.data === 'newinstance,ptmxmode=0666,mode=0620,gid=5', 'without -t: a fresh instance with Docker\'s options');
});

test('FORWARD accept rules: replies and published ports to the bridge, everything from it; tagged with the bridge', (t) => {
  t.deepEqual(forwardAcceptRules('skiff0'), [
    '-o skiff0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "skiff skiff0" -j ACCEPT',
    '-o skiff0 -m conntrack --ctstate DNAT -m comment --comment "skiff skiff0" -j ACCEPT',
    '-i skiff0 -m comment --comment "skiff skiff0" -j ACCEPT',
  ]);
});
