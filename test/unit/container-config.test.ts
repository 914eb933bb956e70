import test from 'ava';
import { commandOf } from '../../runtime/container/create.js';
import { mergeEnv, parseEnvFile } from '../../runtime/container/env.js';
import { parseGroup, resolveUser } from '../../runtime/container/user.js';
import { mountPlan } from '../../runtime/sandbox/mounts.js';
import { hostResolvConf, overlayOptions } from '../../runtime/container/rootfs.js';
import { MS } from '../../native-bindings/libc.js';

test('Docker command rules: Cmd replaced by args, --entrypoint drops the image Cmd', (t) => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
  t.deepEqual(commandOf(image, { cmd: [] }).args, ['/entry', 'default']);
  t.deepEqual(commandOf(image, { cmd: ['x', 'y'] }).args, ['/entry', 'x', 'y']);
  t.deepEqual(commandOf(image, { cmd: [], entrypoint: 'echo' }).args, ['echo']);
  t.deepEqual(commandOf(image, { cmd: ['hi'], entrypoint: '' }).args, ['hi']);
  t.deepEqual(commandOf({}, { cmd: [] }).args, []);
});

test('env: later lists win by key, first position kept', (t) => {
  t.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3'], ['PATH=/x']), ['PATH=/x', 'A=2', 'B=3']);
});

test('env files: comments, blanks, KEY=VALUE, and bare KEY from our environment', (t) => {
  t.deepEqual(parseEnvFile('# c\n\nA=1\n  B=two words\nHOMEX\nMISSING\n', { HOMEX: '/h' }), ['A=1', 'B=two words', 'HOMEX=/h']);
  t.throws(() => parseEnvFile('=bad\n'), { message: /invalid environment variable/ });
});

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n';
const group = 'root:x:0:\napp:x:1000:\nwheel:x:10:app\n';

test('users resolve like Docker: names, uids, groups, supplementary groups', (t) => {
  t.deepEqual(resolveUser('', passwd, group), { uid: 0, gid: 0, groups: [0], home: '/root' });
  t.deepEqual(resolveUser('app', passwd, group), { uid: 1000, gid: 1000, groups: [1000, 10], home: '/home/app' });
  t.deepEqual(resolveUser('4242', passwd, group), { uid: 4242, gid: 0, groups: [0], home: '/' });
  t.deepEqual(resolveUser('app:wheel', passwd, group).gid, 10);
  t.deepEqual(resolveUser('0:5', passwd, group).gid, 5);
  t.throws(() => resolveUser('nobody2', passwd, group), { message: 'unable to find user nobody2: no matching entries in passwd file' });
  t.throws(() => resolveUser('app:nogroup2', passwd, group), { message: /unable to find group nogroup2/ });
  t.is(parseGroup(group).length, 3);
});

test('the mount plan has Docker defaults, in order, with read-only sysfs', (t) => {
  const plan = mountPlan({ hostname: '/c/hostname', hosts: '/c/hosts', resolvConf: '/c/resolv.conf' }, '/dev/pts/7');
  const targets = plan.map((o) => o.target);
  t.deepEqual(targets.slice(0, 3), ['/proc', '/sys', '/dev']);
  for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty']) t.true(targets.includes(`/dev/${d}`));
  t.true(targets.indexOf('/dev/pts') > targets.indexOf('/dev'), '/dev/pts after the /dev tmpfs');
  const sys = plan.find((o) => o.target === '/sys');
  t.true(sys?.kind === 'fs' && (sys.flags & MS.RDONLY) !== 0);
  t.deepEqual(plan.find((o) => o.target === '/dev/console'), { kind: 'bind', source: '/dev/pts/7', target: '/dev/console', file: true });
  for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/acpi', '/proc/scsi', '/sys/firmware']) {
    t.truthy(plan.find((o) => o.kind === 'mask' && o.target === p), `${p} is masked`);
  }
  for (const p of ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus']) t.truthy(plan.find((o) => o.kind === 'readonly' && o.target === p));
  t.true(targets.indexOf('/proc/kcore') > targets.indexOf('/proc'), 'masks after /proc is mounted');
  const privileged = mountPlan({ hostname: 'a', hosts: 'b', resolvConf: 'c' }, undefined, { privileged: true });
  t.false(privileged.some((o) => o.kind === 'mask' || o.kind === 'readonly'), '--privileged masks nothing');
  const user = mountPlan({ hostname: 'a', hosts: 'b', resolvConf: 'c' }, undefined, { volumes: [{ source: '/h', target: '/data', readonly: true }], tmpfs: [{ target: '/t', options: 'size=1m' }] });
  t.truthy(user.find((o) => o.kind === 'bind' && o.target === '/data' && o.readonly));
  t.truthy(user.find((o) => o.kind === 'fs' && o.target === '/t' && o.data === 'size=1m'));
  t.truthy(plan.find((o) => o.kind === 'bind' && o.target === '/etc/hosts' && o.source === '/c/hosts'));
  t.truthy(plan.find((o) => o.kind === 'fs' && o.target === '/dev/pts' && o.data?.includes('newinstance')));
  t.false(mountPlan({ hostname: 'a', hosts: 'b', resolvConf: 'c' }).some((o) => o.target === '/dev/console'));
});

test('resolv.conf: loopback resolvers are replaced as Docker does', (t) => {
  t.is(hostResolvConf('nameserver 127.0.0.53\nsearch x\n'), 'search x\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  t.is(hostResolvConf('nameserver 10.0.0.2\nnameserver 127.0.0.1\n'), 'nameserver 10.0.0.2\n');
});

test('overlay options list the top layer first; data longer than a page is refused, descriptor paths fit Docker\'s 125 layers', (t) => {
  t.is(overlayOptions(['/l/2', '/l/1'], '/u', '/w'), 'lowerdir=/l/2:/l/1,upperdir=/u,workdir=/w');
  t.is(overlayOptions(['/l/2', '/l/1']), 'lowerdir=/l/2:/l/1', 'read-only: no upper dir');
  const upper = '/var/lib/skiff/containers/' + 'c'.repeat(64);
  t.is(overlayOptions(Array(45).fill('/var/lib/skiff/image/layers/' + 'a'.repeat(64)), `${upper}/upper`, `${upper}/work`), undefined);
  t.truthy(overlayOptions(Array.from({ length: 125 }, (_, i) => `/proc/self/fd/${1000 + i}`), `${upper}/upper`, `${upper}/work`));
});
