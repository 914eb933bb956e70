// Device control: which device nodes a container may create and open.
//
// mknod stays allowed (as in Docker), but opening a node outside the list
// fails with EPERM, so `mknod /dev/sda b 8 0` gives no access to the disk.
// The same rule list is enforced two ways:
//   - cgroup v1: lines written to the `devices` controller (devices.deny/allow);
//   - cgroup v2: there is no devices file. The kernel instead asks an eBPF
//     program of type BPF_PROG_TYPE_CGROUP_DEVICE, attached to the cgroup,
//     on every mknod and open of a device node. skiff assembles that program
//     here, in TypeScript, as it assembles the seccomp filter.
// On a hybrid host (v1 controllers plus a cgroup2 mount) the program is
// used, and the v1 lines only where it cannot be attached (start.ts).
import { type Stats, closeSync, constants, openSync, statSync } from 'node:fs';
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_DEVICE, bpfProgAttach, bpfProgLoad, close,
} from '../../native-bindings/libc.js';
import type { CgroupLayout } from './detect.js';
import type { CgroupWrite } from './limits.js';
import type { ContainerCgroup } from './lifecycle.js';

/** One rule in the devices-controller syntax: "c 1:3 rwm", "b *:* m", "a". */
export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  major: number | '*';
  minor: number | '*';
  /** A subset of "rwm": read, write, mknod. */
  access: string;
}

/** Docker's default rules plus the nodes skiff puts in /dev. */
export const DEFAULT_DEVICE_RULES = [
  'c *:* m', 'b *:* m', // mknod of anything (opening is what is checked)
  'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', // null zero full random urandom
  'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', // tty console ptmx
  'c 136:* rwm', // pty slaves (/dev/pts/N)
  'c 10:200 rwm', // tun
];

export function parseDeviceRule(text: string): DeviceRule {
  const m = /^([abc])(?:\s+(\*|\d+):(\*|\d+)\s+([rwm]{1,3}))?$/.exec(text.trim());
  if (!m || (m[1] !== 'a' && !m[2])) throw new Error(`invalid device rule '${text}'`);
  if (m[1] === 'a') return { type: 'a', major: '*', minor: '*', access: m[4] ?? 'rwm' };
  const num = (s: string): number | '*' => (s === '*' ? '*' : Number(s));
  return { type: m[1] as 'b' | 'c', major: num(m[2]), minor: num(m[3]), access: m[4] };
}

export function formatDeviceRule(r: DeviceRule): string {
  return r.type === 'a' && r.major === '*' && r.minor === '*' ? `a *:* ${r.access}` : `${r.type} ${r.major}:${r.minor} ${r.access}`;
}

/**
 * The allow list for a container: Docker's defaults plus `--device` rules.
 * undefined means "everything" (--privileged): no rules are enforced.
 */
export function deviceAllowList(privileged: boolean, extra: DeviceRule[] = []): DeviceRule[] | undefined {
  if (privileged) return undefined;
  return [...DEFAULT_DEVICE_RULES.map(parseDeviceRule), ...extra];
}

/** The v1 devices-controller writes: deny everything, then allow the list. */
export function planDevices(layout: CgroupLayout, allow: DeviceRule[] | undefined): CgroupWrite[] {
  if (layout.controllers.devices?.version !== 1) return [];
  if (!allow) return [{ controller: 'devices', file: 'devices.allow', value: 'a *:* rwm' }];
  return [
    { controller: 'devices', file: 'devices.deny', value: 'a' },
    ...allow.map((r): CgroupWrite => ({ controller: 'devices', file: 'devices.allow', value: formatDeviceRule(r) })),
  ];
}

// ---- the eBPF program ---------------------------------------------------------
//
// The kernel calls it with r1 pointing at struct bpf_cgroup_dev_ctx
// { u32 access_type; u32 major; u32 minor; }, where access_type is
// (access << 16) | type. It returns 1 to allow and 0 to deny (EPERM).

const DEV_TYPE = { b: 1, c: 2 } as const; // BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
const ACC = { m: 1, r: 2, w: 4 } as const; // BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

// Opcodes (linux/bpf.h): class | size/op | source.
const LDX_W = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND_K = 0x57, RSH_K = 0x77, MOV_K = 0xb7, MOV_X = 0xbf; // 64-bit ALU
const JNE_K = 0x55, EXIT = 0x95;

interface BpfInsn { code: number; dst: number; src: number; off: number; imm: number }
const insn = (code: number, dst = 0, src = 0, off = 0, imm = 0): BpfInsn => ({ code, dst, src, off, imm });

const accessMask = (access: string): number => [...access].reduce((m, c) => m | ACC[c as keyof typeof ACC], 0);

/** The program's instructions: "allow if any rule matches, else deny". */
export function deviceProgram(allow: DeviceRule[]): BpfInsn[] {
  const prog: BpfInsn[] = [
    insn(LDX_W, 2, 1, 0), insn(AND_K, 2, 0, 0, 0xffff), // r2 = type
    insn(LDX_W, 3, 1, 0), insn(RSH_K, 3, 0, 0, 16), // r3 = access wanted
    insn(LDX_W, 4, 1, 4), // r4 = major
    insn(LDX_W, 5, 1, 8), // r5 = minor
  ];
  for (const rule of allow) {
    // Each check jumps over the rest of this rule's block when it fails.
    const checks: Array<(skip: number) => BpfInsn[]> = [];
    if (rule.type !== 'a') checks.push((skip) => [insn(JNE_K, 2, 0, skip, DEV_TYPE[rule.type as 'b' | 'c'])]);
    const denied = 7 & ~accessMask(rule.access);
    // r1 is free once the context has been read: r1 = wanted & ~granted, must be 0.
    if (denied) checks.push((skip) => [insn(MOV_X, 1, 3), insn(AND_K, 1, 0, 0, denied), insn(JNE_K, 1, 0, skip)]);
    if (rule.major !== '*') { const major = rule.major; checks.push((skip) => [insn(JNE_K, 4, 0, skip, major)]); }
    if (rule.minor !== '*') { const minor = rule.minor; checks.push((skip) => [insn(JNE_K, 5, 0, skip, minor)]); }
    const block: BpfInsn[] = [];
    // Sizes are fixed (the skip value does not change them), so build back to front.
    const tail = [insn(MOV_K, 0, 0, 0, 1), insn(EXIT)];
    const sizes = checks.map((c) => c(0).length);
    for (let i = 0; i < checks.length; i++) {
      const after = sizes.slice(i + 1).reduce((a, b) => a + b, 0) + tail.length;
      const part = checks[i](0);
      // The jump is the last instruction of each check.
      part[part.length - 1].off = after;
      block.push(...part);
    }
    prog.push(...block, ...tail);
  }
  prog.push(insn(MOV_K, 0, 0, 0, 0), insn(EXIT));
  return prog;
}

/** struct bpf_insn[]: u8 code; u8 dst:4, src:4; s16 off; s32 imm. */
export function encodeProgram(prog: BpfInsn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt8(p.code, i * 8);
    buf.writeUInt8((p.src << 4) | p.dst, i * 8 + 1);
    buf.writeInt16LE(p.off, i * 8 + 2);
    buf.writeInt32LE(p.imm | 0, i * 8 + 4);
  });
  return buf;
}

/** The kernel calls device control needs; tests replace them with a recorder. */
export interface BpfCalls {
  load(insns: Buffer): number;
  attach(cgroupDir: string, progFd: number): void;
  close(fd: number): void;
}

export const kernelBpf: BpfCalls = {
  load: (insns) => bpfProgLoad(BPF_PROG_TYPE_CGROUP_DEVICE, insns, 'Apache-2.0', 'skiff_devices'),
  attach: (dir, progFd) => {
    const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      // ALLOW_MULTI: programs an ancestor cgroup holds (systemd's, say) still run too.
      bpfProgAttach(dirFd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, dir);
    } finally {
      closeSync(dirFd);
    }
  },
  close,
};

/** The container's directory in the cgroup2 hierarchy, where device programs attach. */
export function v2DirOf(cg: ContainerCgroup): string | undefined {
  return cg.hierarchies.find((h) => h.version === 2)?.dir;
}

/**
 * Attaches the device program for ALLOW to the container's cgroup2 directory.
 * The attachment lives as long as the cgroup (the fd is closed here), and it
 * covers every process in the cgroup, `exec`'d ones too.
 *
 * It fails closed: when the program cannot be loaded or attached and no v1
 * devices controller enforces the same rules, the container must not start.
 * On a hybrid host the v1 rules already hold, so a kernel without cgroup BPF
 * is tolerated there.
 */
export function attachDeviceProgram(cg: ContainerCgroup, allow: DeviceRule[] | undefined, calls: BpfCalls = kernelBpf): boolean {
  const dir = v2DirOf(cg);
  if (!allow || !dir) return false;
  let progFd = -1;
  try {
    progFd = calls.load(encodeProgram(deviceProgram(allow)));
    calls.attach(dir, progFd);
    return true;
  } catch (err) {
    if (cg.layout.controllers.devices?.version === 1) return false;
    throw new Error(
      `cgroup v2 device control is unavailable, so the container was not started: ${(err as Error).message} ` +
        `(the kernel needs CONFIG_CGROUP_BPF; --privileged starts without device control)`,
      { cause: err },
    );
  } finally {
    if (progFd >= 0) calls.close(progFd);
  }
}

/** Type, major and minor of a device node on the host, for `--device`. */
export function hostDevice(hostPath: string): { type: 'b' | 'c'; major: number; minor: number } {
  let st: Stats;
  try {
    st = statSync(hostPath);
  } catch {
    throw new Error(`error gathering device information while adding custom device "${hostPath}": no such file or directory`);
  }
  if (!st.isBlockDevice() && !st.isCharacterDevice()) {
    throw new Error(`error gathering device information while adding custom device "${hostPath}": not a device node`);
  }
  const rdev = st.rdev;
  // glibc's major()/minor() split of a dev_t.
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return { type: st.isBlockDevice() ? 'b' : 'c', major, minor };
}
