// Device control without root: the rule syntax, the v1 writes, the eBPF
// program's shape, and the fail-closed policy with a recorded bpf(2).
import test from 'ava';
import {
  attachDeviceProgram, containerCgroup, deviceAllowList, deviceProgram, encodeProgram, formatDeviceRule, parseDeviceRule,
  planDevices, DEFAULT_DEVICE_RULES, type BpfCalls, type CgroupLayout,
} from '../../runtime/cgroups/index.js';
import { parseDevice } from '../../runtime/container/security.js';

const v2: CgroupLayout = (() => {
  const h = { version: 2 as const, mountPoint: '/sys/fs/cgroup', ownDir: '/sys/fs/cgroup' };
  return { mode: 'unified', controllers: { memory: h, cpu: h, pids: h, freezer: h }, v2: { ...h, available: ['memory'], delegatable: ['memory'] } };
})();
const hybrid: CgroupLayout = {
  mode: 'hybrid',
  controllers: { devices: { version: 1, mountPoint: '/sys/fs/cgroup/devices', ownDir: '/sys/fs/cgroup/devices' } },
  v2: { version: 2, mountPoint: '/sys/fs/cgroup/unified', ownDir: '/sys/fs/cgroup/unified', available: [], delegatable: [] },
};

test('device rules parse and print in the devices-controller syntax', (t) => {
  t.deepEqual(parseDeviceRule('c 1:3 rwm'), { type: 'c', major: 1, minor: 3, access: 'rwm' });
  t.deepEqual(parseDeviceRule('b *:* m'), { type: 'b', major: '*', minor: '*', access: 'm' });
  t.deepEqual(parseDeviceRule('c 136:* rw'), { type: 'c', major: 136, minor: '*', access: 'rw' });
  t.is(formatDeviceRule(parseDeviceRule('a')), 'a *:* rwm');
  for (const r of DEFAULT_DEVICE_RULES) t.is(formatDeviceRule(parseDeviceRule(r)), r);
  for (const bad of ['x 1:3 rwm', 'c 1:3', 'c 1:3 rwx', 'c a:3 r']) t.throws(() => parseDeviceRule(bad), { message: /invalid device rule/ });
});

test('v1: deny all, then the allow list; --privileged allows all; v2-only hosts write nothing', (t) => {
  const writes = planDevices(hybrid, deviceAllowList(false, [parseDeviceRule('b 7:0 r')]));
  t.deepEqual(writes[0], { controller: 'devices', file: 'devices.deny', value: 'a' });
  t.deepEqual(writes.slice(1).map((w) => w.value), [...DEFAULT_DEVICE_RULES, 'b 7:0 r']);
  t.deepEqual(planDevices(hybrid, deviceAllowList(true)), [{ controller: 'devices', file: 'devices.allow', value: 'a *:* rwm' }]);
  t.deepEqual(planDevices(v2, deviceAllowList(false)), []);
});

test('the eBPF program: a block per rule, every jump lands on the next rule, deny at the end', (t) => {
  const rules = deviceAllowList(false)!;
  const prog = deviceProgram(rules);
  // Rule starts: after the 6-instruction prologue, each block ends with "r0 = 1; exit".
  const starts = [6];
  prog.forEach((p, i) => { if (p.code === 0x95 && i + 1 < prog.length) starts.push(i + 1); });
  t.is(starts.length, rules.length + 1, 'one block per rule plus the final deny');
  for (let i = 6; i < prog.length; i++) {
    if (prog[i].code !== 0x55) continue;
    const target = i + 1 + prog[i].off;
    t.true(starts.includes(target), `jump at ${i} lands on a block start (${target})`);
  }
  t.deepEqual(prog.slice(-2).map((p) => [p.code, p.imm]), [[0xb7, 0], [0x95, 0]], 'default: deny');
  // "c 1:3 rwm": type, major and minor checked; no access check for rwm.
  const nullRule = deviceProgram([parseDeviceRule('c 1:3 rwm')]).slice(6, -2);
  t.deepEqual(nullRule.map((p) => p.code), [0x55, 0x55, 0x55, 0xb7, 0x95]);
  t.deepEqual(nullRule.slice(0, 3).map((p) => [p.dst, p.imm]), [[2, 2], [4, 1], [5, 3]]);
  // "b *:* m": type and access only; r1 = wanted & ~mknod must be 0.
  const mknodRule = deviceProgram([parseDeviceRule('b *:* m')]).slice(6, -2);
  t.deepEqual(mknodRule.map((p) => [p.code, p.imm]), [[0x55, 1], [0xbf, 0], [0x57, 6], [0x55, 0], [0xb7, 1], [0x95, 0]]);
  t.is(encodeProgram(prog).length, prog.length * 8);
});

function recorder(fail?: 'load' | 'attach'): BpfCalls & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    load: (insns) => { calls.push(`load ${insns.length / 8}`); if (fail === 'load') throw new Error('bpf(BPF_PROG_LOAD): EPERM'); return 42; },
    attach: (dir, fd) => { calls.push(`attach ${fd} ${dir}`); if (fail === 'attach') throw new Error('bpf(BPF_PROG_ATTACH): EINVAL'); },
    close: (fd) => { calls.push(`close ${fd}`); },
  };
}

test('v2: the program is loaded, attached to the container dir, and its fd closed', (t) => {
  const rec = recorder();
  t.true(attachDeviceProgram(containerCgroup(v2, 'c1'), deviceAllowList(false), rec));
  t.deepEqual(rec.calls.slice(1), ['attach 42 /sys/fs/cgroup/skiff/c1', 'close 42']);
});

test('fails closed on v2: a kernel that cannot load or attach stops the start with the cause', (t) => {
  for (const fail of ['load', 'attach'] as const) {
    const rec = recorder(fail);
    t.throws(() => attachDeviceProgram(containerCgroup(v2, 'c1'), deviceAllowList(false), rec), {
      message: new RegExp(`device control is unavailable, so the container was not started: bpf\\(BPF_PROG_${fail.toUpperCase()}\\)`),
    });
    if (fail === 'attach') t.is(rec.calls.at(-1), 'close 42', 'the program fd is closed on failure too');
  }
});

test('--privileged loads no program; on a hybrid host a failed program leaves the v1 rules in charge', (t) => {
  const rec = recorder();
  t.false(attachDeviceProgram(containerCgroup(v2, 'c1'), deviceAllowList(true), rec));
  t.deepEqual(rec.calls, []);
  t.false(attachDeviceProgram(containerCgroup(hybrid, 'c1'), deviceAllowList(false), recorder('load')));
});

test('--device follows Docker: HOST, HOST:CONTAINER, HOST:PERMS, HOST:CONTAINER:PERMS', (t) => {
  t.deepEqual(parseDevice('/dev/loop0'), { PathOnHost: '/dev/loop0', PathInContainer: '/dev/loop0', CgroupPermissions: 'rwm' });
  t.deepEqual(parseDevice('/dev/loop0:/dev/xda'), { PathOnHost: '/dev/loop0', PathInContainer: '/dev/xda', CgroupPermissions: 'rwm' });
  t.deepEqual(parseDevice('/dev/loop0:r'), { PathOnHost: '/dev/loop0', PathInContainer: '/dev/loop0', CgroupPermissions: 'r' });
  t.deepEqual(parseDevice('/dev/loop0:/dev/xda:rw'), { PathOnHost: '/dev/loop0', PathInContainer: '/dev/xda', CgroupPermissions: 'rw' });
  t.throws(() => parseDevice('/dev/loop0:/dev/xda:rx'), { message: /invalid device mode: rx/ });
  t.throws(() => parseDevice('loop0'), { message: /host path must be absolute/ });
  t.throws(() => parseDevice('/dev/loop0:xda'), { message: /container path must be absolute/ });
});
