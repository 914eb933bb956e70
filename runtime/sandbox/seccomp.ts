// seccomp: a system call filter, compiled here to classic BPF.
//
// The default profile is equivalent in effect to Docker's: the calls that
// reach kernel-wide state (modules, mounts, namespaces, keyrings, clocks,
// reboot, bpf, perf, swap, ...) fail with EPERM unless the container holds
// the capability Docker ties them to. It is written as a deny list over
// x86-64, the only architecture skiff filters: any other architecture's
// calls (including the x32 ABI) are refused outright.
//
// Docker-format profiles (--security-opt seccomp=FILE.json) are compiled by
// the same code: defaultAction, syscalls[{names, action, errnoRet, args,
// includes/excludes.caps}].
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { SkiffError } from '../util/errors.js';
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';

export type Action = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_KILL' | 'SCMP_ACT_KILL_THREAD' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_TRAP' | 'SCMP_ACT_LOG';
export type Op = 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_GT' | 'SCMP_CMP_GE' | 'SCMP_CMP_MASKED_EQ';

export interface ArgCond { index: number; value: number | bigint; valueTwo?: number | bigint; op: Op }
export interface Rule {
  names?: string[];
  name?: string; // older Docker profiles
  action: Action;
  errnoRet?: number;
  args?: ArgCond[] | null;
  includes?: { caps?: string[]; arches?: string[] };
  excludes?: { caps?: string[]; arches?: string[] };
}
export interface Profile { defaultAction: Action; defaultErrnoRet?: number; syscalls?: Rule[] | null }

const EPERM = constants.errno.EPERM;
const ENOSYS = constants.errno.ENOSYS;

const NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** Calls Docker's profile refuses unless the container has the named capability. */
const GATED: Array<[string[], string[]]> = [
  [['bpf'], ['SYS_ADMIN', 'BPF']],
  [['perf_event_open'], ['SYS_ADMIN', 'PERFMON']],
  [['mount', 'umount2', 'pivot_root', 'unshare', 'setns', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr',
    'quotactl', 'quotactl_fd', 'lookup_dcookie', 'name_to_handle_at', 'fanotify_init'], ['SYS_ADMIN']],
  [['reboot'], ['SYS_BOOT']],
  [['init_module', 'finit_module', 'delete_module', 'create_module', 'query_module', 'get_kernel_syms'], ['SYS_MODULE']],
  [['acct'], ['SYS_PACCT']],
  [['kcmp', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd'], ['SYS_PTRACE']],
  [['iopl', 'ioperm'], ['SYS_RAWIO']],
  [['settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex'], ['SYS_TIME']],
  [['vhangup'], ['SYS_TTY_CONFIG']],
  [['get_mempolicy', 'set_mempolicy', 'mbind', 'set_mempolicy_home_node'], ['SYS_NICE']],
  [['syslog'], ['SYSLOG']],
  [['open_by_handle_at'], ['DAC_READ_SEARCH']],
];

/** Refused whatever the capabilities (obsolete or never safe in a container). */
const ALWAYS_DENIED = ['kexec_load', 'kexec_file_load', 'keyctl', 'add_key', 'request_key', 'swapon', 'swapoff', 'userfaultfd',
  'uselib', 'nfsservctl', '_sysctl', 'sysfs', 'ustat', 'afs_syscall', 'tuxcall', 'security', 'vserver', 'putpmsg', 'getpmsg'];

/** Docker's default profile, in effect, for a container holding `caps`. */
export function defaultProfile(caps: string[]): Profile {
  const has = (any: string[]) => any.some((c) => caps.includes(c));
  const denied = [...ALWAYS_DENIED];
  for (const [names, needs] of GATED) if (!has(needs)) denied.push(...names);
  const rules: Rule[] = [
    { names: denied.filter((n) => n in SYSCALLS_X86_64), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    // glibc falls back to clone() when clone3 says ENOSYS; clone's flags can be checked, clone3's cannot.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  ];
  if (!has(['SYS_ADMIN'])) {
    // First match wins: clone without namespace flags is allowed, any other clone refused.
    rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: NS_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] });
    rules.push({ names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM });
  }
  // Personalities other than Linux's plain ones can change the address space layout.
  rules.push({ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_NE' }] });
  return { defaultAction: 'SCMP_ACT_ALLOW', syscalls: rules };
}

export function loadProfile(file: string): Profile {
  let p: Profile;
  try {
    p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  } catch (e) {
    throw new SkiffError(`opening seccomp profile (${file}) failed: ${(e as Error).message}`);
  }
  if (!p || typeof p.defaultAction !== 'string') throw new SkiffError(`seccomp profile ${file} has no defaultAction`);
  return p;
}

// ---- BPF assembly -----------------------------------------------------------

const LD_W_ABS = 0x20, JEQ = 0x15, JGT = 0x25, JGE = 0x35, JA = 0x05, RET = 0x06, AND = 0x54;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_BIT = 0x40000000;
const OFF_NR = 0, OFF_ARCH = 4, OFF_ARGS = 16;

interface Label { pos?: number }
interface Insn { code: number; k: number; jt?: Label; jf?: Label }

function retValue(action: Action, errno?: number): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return 0x7fff0000;
    case 'SCMP_ACT_ERRNO': return (0x00050000 | ((errno ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return 0;
    case 'SCMP_ACT_KILL_PROCESS': return 0x80000000;
    case 'SCMP_ACT_TRAP': return 0x00030000;
    case 'SCMP_ACT_LOG': return 0x7ffc0000;
    default: throw new SkiffError(`seccomp: unsupported action ${String(action)}`);
  }
}

class Assembler {
  insns: Insn[] = [];
  label(): Label { return {}; }
  here(l: Label) { l.pos = this.insns.length; }
  emit(code: number, k: number, jt?: Label, jf?: Label) { this.insns.push({ code, k: k >>> 0, jt, jf }); }
  ld(off: number) { this.emit(LD_W_ABS, off); }
  ret(v: number) { this.emit(RET, v); }

  /** Resolves labels into relative jumps; sock_filter is {u16 code, u8 jt, u8 jf, u32 k}. */
  assemble(): Buffer {
    if (this.insns.length > 4096) throw new SkiffError(`seccomp filter too long (${this.insns.length} instructions)`);
    const buf = Buffer.alloc(this.insns.length * 8);
    this.insns.forEach((ins, i) => {
      const rel = (l?: Label) => {
        if (!l) return 0;
        const d = (l.pos ?? NaN) - (i + 1);
        if (!(d >= 0 && d <= 255)) throw new SkiffError('seccomp: jump out of range');
        return d;
      };
      const isJump = (ins.code & 0x07) === 0x05;
      if (ins.code === JA) buf.writeUInt16LE(ins.code, i * 8), buf.writeUInt32LE(rel(ins.jt), i * 8 + 4);
      else {
        buf.writeUInt16LE(ins.code, i * 8);
        buf.writeUInt8(isJump ? rel(ins.jt) : 0, i * 8 + 2);
        buf.writeUInt8(isJump ? rel(ins.jf) : 0, i * 8 + 3);
        buf.writeUInt32LE(ins.k, i * 8 + 4);
      }
    });
    return buf;
  }
}

const lo = (v: bigint) => Number(v & 0xffffffffn);
const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);

/** Emits a test of one argument; falls through on success, jumps to `fail` otherwise. */
function emitCond(a: Assembler, c: ArgCond, fail: Label): void {
  const v = BigInt(c.value);
  const offLo = OFF_ARGS + 8 * c.index, offHi = offLo + 4;
  const pass = a.label();
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      a.ld(offHi); a.emit(JEQ, hi(v), undefined, fail);
      a.ld(offLo); a.emit(JEQ, lo(v), undefined, fail);
      break;
    case 'SCMP_CMP_NE':
      a.ld(offHi); a.emit(JEQ, hi(v), undefined, pass);
      a.ld(offLo); a.emit(JEQ, lo(v), fail, pass);
      break;
    case 'SCMP_CMP_MASKED_EQ': {
      const want = BigInt(c.valueTwo ?? 0);
      a.ld(offHi); a.emit(AND, hi(v)); a.emit(JEQ, hi(want), undefined, fail);
      a.ld(offLo); a.emit(AND, lo(v)); a.emit(JEQ, lo(want), undefined, fail);
      break;
    }
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
      a.ld(offHi); a.emit(JGT, hi(v), pass); a.emit(JEQ, hi(v), undefined, fail);
      a.ld(offLo); a.emit(c.op === 'SCMP_CMP_GT' ? JGT : JGE, lo(v), pass, fail);
      break;
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE':
      a.ld(offHi); a.emit(JGT, hi(v), fail); a.emit(JEQ, hi(v), undefined, pass);
      a.ld(offLo); a.emit(c.op === 'SCMP_CMP_LT' ? JGE : JGT, lo(v), fail, pass);
      break;
    default:
      throw new SkiffError(`seccomp: unsupported argument operator ${String(c.op)}`);
  }
  a.here(pass);
}

function ruleApplies(r: Rule, caps: string[]): boolean {
  const inc = r.includes?.caps, exc = r.excludes?.caps;
  const norm = (c: string) => c.replace(/^CAP_/, '');
  if (inc?.length && !inc.map(norm).every((c) => caps.includes(c))) return false;
  if (exc?.length && exc.map(norm).some((c) => caps.includes(c))) return false;
  if (r.includes?.arches?.length && !r.includes.arches.some((x) => ['amd64', 'x86_64', 'SCMP_ARCH_X86_64'].includes(x))) return false;
  return true;
}

/**
 * Compiles a profile into a BPF program (the bytes of a sock_filter array).
 * The first rule is skiff's own: skiff-exec runs under the filter and must
 * unshare its cgroup namespace (the kernel still demands CAP_SYS_ADMIN, which
 * the container's command no longer has by then).
 */
export function compile(profile: Profile, caps: string[] = []): Buffer {
  if (process.arch !== 'x64') throw new SkiffError(`seccomp filters are built for x86-64 only; refusing to run on ${process.arch} without one (use --security-opt seccomp=unconfined to accept that)`);
  const a = new Assembler();
  const arch = a.label();
  a.ld(OFF_ARCH);
  a.emit(JEQ, AUDIT_ARCH_X86_64, arch);
  a.ret(retValue('SCMP_ACT_KILL_PROCESS'));
  a.here(arch);
  a.ld(OFF_NR);
  const notX32 = a.label();
  a.emit(JGE, X32_BIT, undefined, notX32);
  a.ret(retValue('SCMP_ACT_ERRNO', EPERM));
  a.here(notX32);
  const rules: Rule[] = [
    { names: ['unshare'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x02000000, op: 'SCMP_CMP_EQ' }] },
    ...(profile.syscalls ?? []).filter((r) => ruleApplies(r, caps)),
  ];
  for (const r of rules) {
    const nrs = [...(r.names ?? []), ...(r.name ? [r.name] : [])].map((n) => SYSCALLS_X86_64[n]).filter((n): n is number => n !== undefined);
    if (nrs.length === 0) continue;
    const ret = retValue(r.action, r.errnoRet ?? profile.defaultErrnoRet);
    for (let i = 0; i < nrs.length; i += 100) {
      const chunk = nrs.slice(i, i + 100);
      const next = a.label(), body = a.label();
      a.ld(OFF_NR);
      chunk.forEach((nr, k) => a.emit(JEQ, nr, body, k === chunk.length - 1 ? next : undefined));
      a.here(body);
      for (const c of r.args ?? []) emitCond(a, c, next);
      a.ret(ret);
      a.here(next);
    }
  }
  a.ret(retValue(profile.defaultAction, profile.defaultErrnoRet));
  return a.assemble();
}
