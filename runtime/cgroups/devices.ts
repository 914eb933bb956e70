// The device cgroup (v1 `devices` controller): which device nodes a
// container may open. mknod stays allowed (as in Docker), but opening a node
// outside this list fails with EPERM, so `mknod /dev/sda b 8 0` gives no
// access to the disk. cgroup v2 does this with an eBPF program instead;
// skiff does not load one yet (see docs/security.md).
import type { CgroupLayout } from './detect.js';
import type { CgroupWrite } from './limits.js';

/** Docker's default rules plus the nodes skiff puts in /dev. */
export const DEFAULT_DEVICE_RULES = [
  'c *:* m', 'b *:* m', // mknod of anything (opening is what is checked)
  'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', // null zero full random urandom
  'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', // tty console ptmx
  'c 136:* rwm', // pty slaves (/dev/pts/N)
  'c 10:200 rwm', // tun
];

export function planDevices(layout: CgroupLayout, privileged: boolean): CgroupWrite[] {
  if (layout.controllers.devices?.version !== 1) return [];
  if (privileged) return [{ controller: 'devices', file: 'devices.allow', value: 'a *:* rwm' }];
  return [
    { controller: 'devices', file: 'devices.deny', value: 'a' },
    ...DEFAULT_DEVICE_RULES.map((value): CgroupWrite => ({ controller: 'devices', file: 'devices.allow', value })),
  ];
}
