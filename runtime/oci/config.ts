// An OCI bundle's config.json, translated into the inputs `skiff run` builds
// from Docker's flags: a SandboxSpec (mount plan, process, security), the
// clone flags, cgroup limits and device rules. The start itself is the same
// engine (container/start.ts launch(), sandbox/mounts.ts, cgroups/*).
//
// Every field is either translated, ignored on purpose (listed in IGNORED and
// the README), or refused with one line naming its JSON path.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { isAbsolute, posix, resolve } from 'node:path';
import { MS } from '../../native-bindings/libc.js';
import { CLONE } from '../../native-bindings/helper.js';
import { deviceAllowList, hostDevice, type DeviceRule } from '../cgroups/devices.js';
import type { CgroupLimits } from '../cgroups/limits.js';
import { CAPS, capabilityMask } from '../sandbox/capabilities.js';
import { cgroupMounts, type CgroupView, type MountOp } from '../sandbox/mounts.js';
import { compile, type Profile } from '../sandbox/seccomp.js';
import type { SandboxSpec } from '../sandbox/spec.js';

/** A config.json problem: one line, naming the JSON path; runc's exit code 1. */
export class ConfigError extends Error {
  constructor(path: string, what: string) {
    super(`config.json: ${path} ${what}`);
  }
}

/** Fields skiff accepts and does not act on (the spec lets a runtime ignore them, or they only concern other platforms/hosts). */
export const IGNORED = [
  'linux.rootfsPropagation', 'mounts[].options propagation flags (the container\'s mounts are private)',
  'process.apparmorProfile', 'process.selinuxLabel', 'linux.mountLabel', 'process.user.umask', 'process.consoleSize (the client sets the size on the console it receives)',
  'linux.resources.memory.useHierarchy, and reservation/swappiness/disableOOMKiller/kernel/kernelTCP where the cgroup version has no such file', 'linux.seccomp.architectures (x86-64 only; other ABIs are refused)',
  'linux.seccomp.flags', 'linux.resources.devices deny rules after the first (the list is an allow list on top of runc\'s default devices)',
  'a missing mount namespace (skiff always creates one)',
];

export interface Hook { path: string; args?: string[]; env?: string[]; timeout?: number }
export interface Hooks { createRuntime: Hook[]; prestart: Hook[]; poststart: Hook[]; poststop: Hook[] }
export interface IdMapping { containerID: number; hostID: number; size: number }
export interface Rlimit { type: string; soft: number; hard: number }

export interface OciPlan {
  spec: SandboxSpec;
  /** Bounding plus effective as one mask (what `exec` applies). */
  execCaps: string;
  flags: number;
  /** Join this network namespace (linux.namespaces[].path). */
  netnsPath?: string;
  /** ipc, uts and pid namespaces to join by path. */
  joins: Array<{ type: 'ipc' | 'uts' | 'pid'; path: string }>;
  /** Whether the uts namespace is new (else the hostname is left as the namespace has it). */
  newUts: boolean;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  limits: CgroupLimits;
  /** Device allow list (undefined: all allowed). */
  devices: DeviceRule[] | undefined;
  memoryExtra: MemoryExtra[];
  rlimits: Rlimit[];
  oomScoreAdj?: number;
  sysctl: Record<string, string>;
  hooks: Hooks;
  annotations: Record<string, string>;
  terminal: boolean;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A value that means "not set": absent, null, 0, false, "", [] or {}. */
const unset = (v: unknown): boolean => v === undefined || v === null || v === 0 || v === false || v === ''
  || (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.values(v).every(unset));

function obj(v: unknown, path: string): Json {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(path, 'must be an object');
  return v;
}
function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, 'must be an array');
  return v;
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ConfigError(path, 'must be a string');
  return v;
}
function strs(v: unknown, path: string): string[] {
  return arr(v, path).map((x, i) => str(x, `${path}[${i}]`));
}
function int(v: unknown, path: string, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new ConfigError(path, `must be an integer${min > -Infinity ? ` >= ${min}` : ''}`);
  return v;
}
function refuse(v: unknown, path: string): void {
  if (!unset(v)) throw new ConfigError(path, 'is not supported');
}

/** Reads and parses BUNDLE/config.json; a syntax error names the file. */
export function readConfig(bundle: string): Json {
  const file = posix.join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('', `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('', `is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(c)) throw new ConfigError('(top level)', 'must be an object');
  return c;
}

// ---- mounts -------------------------------------------------------------------

const FLAGS: Record<string, [set: number, clear: number]> = {
  ro: [MS.RDONLY, 0], rw: [0, MS.RDONLY], nosuid: [MS.NOSUID, 0], suid: [0, MS.NOSUID], nodev: [MS.NODEV, 0], dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0], exec: [0, MS.NOEXEC], sync: [16, 0], async: [0, 16], dirsync: [128, 0], mand: [64, 0], nomand: [0, 64],
  noatime: [MS.NOATIME, 0], atime: [0, MS.NOATIME], nodiratime: [2048, 0], diratime: [0, 2048], relatime: [MS.RELATIME, 0],
  norelatime: [0, MS.RELATIME], strictatime: [MS.STRICTATIME, 0], nostrictatime: [0, MS.STRICTATIME], defaults: [0, 0],
};
const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']);
const FS_TYPES = new Set(['proc', 'sysfs', 'tmpfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'bind', 'none', 'overlay', 'ramfs', 'devtmpfs']);

/** runc's default device nodes, bound from the host (mknod is not allowed in a user namespace). */
const DEFAULT_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

function devMounts(kcore: boolean): MountOp[] {
  return [
    ...DEFAULT_DEVICES.map((d): MountOp => ({ kind: 'bind', source: `/dev/${d}`, target: `/dev/${d}`, file: true })),
    { kind: 'symlink', target: '/dev/ptmx', linkTo: 'pts/ptmx' },
    { kind: 'symlink', target: '/dev/fd', linkTo: '/proc/self/fd' },
    { kind: 'symlink', target: '/dev/stdin', linkTo: '/proc/self/fd/0' },
    { kind: 'symlink', target: '/dev/stdout', linkTo: '/proc/self/fd/1' },
    { kind: 'symlink', target: '/dev/stderr', linkTo: '/proc/self/fd/2' },
    ...(kcore ? [{ kind: 'symlink', target: '/dev/core', linkTo: '/proc/kcore' } as MountOp] : []),
  ];
}

function translateMount(m: Json, path: string, bundle: string, cgroups: CgroupView): MountOp[] {
  const target = posix.normalize(str(m.destination, `${path}.destination`));
  if (!isAbsolute(target)) throw new ConfigError(`${path}.destination`, 'must be an absolute path');
  const options = strs(m.options, `${path}.options`);
  let type = m.type === undefined ? 'none' : str(m.type, `${path}.type`);
  const source = m.source === undefined ? '' : str(m.source, `${path}.source`);
  let set = 0, clear = 0, bind = false;
  const data: string[] = [];
  for (const [i, o] of options.entries()) {
    if (o === 'bind' || o === 'rbind') bind = true;
    else if (FLAGS[o]) [set, clear] = [set | FLAGS[o][0], clear | FLAGS[o][1]];
    else if (PROPAGATION.has(o)) continue;
    else if (['idmap', 'ridmap', 'tmpcopyup', 'remount', 'recursive'].includes(o) || o.startsWith('r') && FLAGS[o.slice(1)] && !FLAGS[o]) {
      throw new ConfigError(`${path}.options[${i}]`, `"${o}" is not supported`);
    } else data.push(o);
  }
  const flags = set & ~clear;
  if (type === 'bind' || bind) {
    const src = isAbsolute(source) ? source : resolve(bundle, source);
    if (!existsSync(src)) throw new ConfigError(`${path}.source`, `${source} does not exist`);
    const ops: MountOp[] = [{ kind: 'bind', source: src, target, file: !statSync(src).isDirectory() }];
    if (flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC)) ops.push({ kind: 'remount', target, flags: MS.BIND | flags });
    return ops;
  }
  if (!FS_TYPES.has(type)) throw new ConfigError(`${path}.type`, `"${type}" is not supported`);
  if (type === 'cgroup' || type === 'cgroup2') return cgroupMounts(cgroups, !(flags & MS.RDONLY));
  if (type === 'none') type = source;
  return [{ kind: 'fs', fstype: type, source: source || type, target, flags, ...(data.length ? { data: data.join(',') } : {}) }];
}

// ---- the whole config ---------------------------------------------------------

const NS_FLAGS: Record<string, number> = {
  pid: CLONE.NEWPID, mount: CLONE.NEWNS, ipc: CLONE.NEWIPC, uts: CLONE.NEWUTS, network: CLONE.NEWNET, user: CLONE.NEWUSER, cgroup: CLONE.NEWCGROUP,
};

const RLIMITS = ['RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS', 'RLIMIT_NPROC', 'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME'];
export const rlimitNumber = (type: string): number => RLIMITS.indexOf(type);

function capNames(v: unknown, path: string): string[] {
  return strs(v, path).map((c, i) => {
    const n = c.toUpperCase().replace(/^CAP_/, '');
    if (!CAPS.includes(n)) throw new ConfigError(`${path}[${i}]`, `"${c}" is not a capability skiff knows`);
    return n;
  });
}

function hooksOf(v: unknown): Hooks {
  const h = obj(v, 'hooks');
  for (const k of ['createContainer', 'startContainer']) refuse(h[k], `hooks.${k}`);
  const list = (k: string): Hook[] => arr(h[k], `hooks.${k}`).map((x, i) => {
    const p = `hooks.${k}[${i}]`;
    const o = obj(x, p);
    const path = str(o.path, `${p}.path`);
    if (!isAbsolute(path)) throw new ConfigError(`${p}.path`, 'must be an absolute path');
    return {
      path, args: strs(o.args, `${p}.args`), env: strs(o.env, `${p}.env`),
      ...(o.timeout !== undefined ? { timeout: int(o.timeout, `${p}.timeout`, 1) } : {}),
    };
  });
  return { createRuntime: list('createRuntime'), prestart: list('prestart'), poststart: list('poststart'), poststop: list('poststop') };
}

function idMappings(v: unknown, path: string): IdMapping[] {
  return arr(v, path).map((x, i) => {
    const o = obj(x, `${path}[${i}]`);
    return { containerID: int(o.containerID, `${path}[${i}].containerID`, 0), hostID: int(o.hostID, `${path}[${i}].hostID`, 0), size: int(o.size, `${path}[${i}].size`, 1) };
  });
}

function deviceRules(v: unknown, path: string): DeviceRule[] | undefined {
  const rules: DeviceRule[] = [];
  for (const [i, x] of arr(v, path).entries()) {
    const o = obj(x, `${path}[${i}]`);
    if (o.allow !== true) continue;
    const type = o.type === undefined || o.type === 'a' ? 'a' : str(o.type, `${path}[${i}].type`);
    if (!['a', 'b', 'c'].includes(type)) throw new ConfigError(`${path}[${i}].type`, `"${type}" is not a device type`);
    const num = (n: unknown, p: string): number | '*' => (n === undefined || n === null || n === -1 ? '*' : int(n, p, 0));
    const major = num(o.major, `${path}[${i}].major`), minor = num(o.minor, `${path}[${i}].minor`);
    const access = o.access === undefined ? 'rwm' : str(o.access, `${path}[${i}].access`);
    if (type === 'a' && major === '*' && minor === '*' && /r/.test(access) && /w/.test(access)) return undefined; // everything
    rules.push({ type: type as DeviceRule['type'], major, minor, access });
  }
  return rules;
}

/** Memory settings skiff run has no flag for, written as they are (v1 file / v2 file; absent = not on that version). */
export interface MemoryExtra { file1?: string; file2?: string; value: string }

export function resources(v: unknown): { limits: CgroupLimits; devices: DeviceRule[] | undefined; memoryExtra: MemoryExtra[] } {
  const r = obj(v, 'linux.resources');
  const mem = obj(r.memory, 'linux.resources.memory');
  const cpu = obj(r.cpu, 'linux.resources.cpu');
  const pids = obj(r.pids, 'linux.resources.pids');
  for (const k of ['hugepageLimits', 'network', 'rdma', 'blockIO', 'unified']) refuse(r[k], `linux.resources.${k}`);
  for (const k of ['realtimeRuntime', 'realtimePeriod', 'cpus', 'mems', 'idle', 'burst']) refuse(cpu[k], `linux.resources.cpu.${k}`);
  const limits: CgroupLimits = {};
  if (!unset(mem.limit) && mem.limit !== -1) limits.memory = int(mem.limit, 'linux.resources.memory.limit', 0);
  if (!unset(mem.swap)) limits.memorySwap = int(mem.swap, 'linux.resources.memory.swap', -1);
  if (!unset(cpu.shares)) limits.cpuShares = int(cpu.shares, 'linux.resources.cpu.shares', 2);
  if (!unset(cpu.quota) && cpu.quota !== -1) {
    const quota = int(cpu.quota, 'linux.resources.cpu.quota', 1);
    const period = unset(cpu.period) ? 100000 : int(cpu.period, 'linux.resources.cpu.period', 1000);
    limits.nanoCpus = Math.round((quota * 1e9) / period);
  }
  if (!unset(pids.limit) && (pids.limit as number) > 0) limits.pidsLimit = int(pids.limit, 'linux.resources.pids.limit');
  const memoryExtra: MemoryExtra[] = [];
  if (!unset(mem.reservation) && mem.reservation !== -1) {
    memoryExtra.push({ file1: 'memory.soft_limit_in_bytes', file2: 'memory.low', value: String(int(mem.reservation, 'linux.resources.memory.reservation', 0)) });
  }
  if (mem.swappiness !== undefined && mem.swappiness !== null) {
    const sw = int(mem.swappiness, 'linux.resources.memory.swappiness', 0);
    if (sw > 100) throw new ConfigError('linux.resources.memory.swappiness', 'must be between 0 and 100');
    memoryExtra.push({ file1: 'memory.swappiness', value: String(sw) });
  }
  if (mem.disableOOMKiller === true) memoryExtra.push({ file1: 'memory.oom_control', value: '1' });
  if (!unset(mem.kernel)) memoryExtra.push({ file1: 'memory.kmem.limit_in_bytes', value: String(int(mem.kernel, 'linux.resources.memory.kernel')) });
  if (!unset(mem.kernelTCP)) memoryExtra.push({ file1: 'memory.kmem.tcp.limit_in_bytes', value: String(int(mem.kernelTCP, 'linux.resources.memory.kernelTCP')) });
  return { limits, devices: deviceRules(r.devices, 'linux.resources.devices'), memoryExtra };
}

export interface TranslateInput {
  bundle: string;
  /** What /sys/fs/cgroup shows inside (the container's cgroup directories). */
  cgroups: CgroupView;
  /** With process.terminal: the pty slave's host path, bound to /dev/console. */
  consolePath?: string;
}

/** config.json -> what the start needs. Throws ConfigError before anything is made. */
export function translate(c: Json, input: TranslateInput): OciPlan {
  const { bundle } = input;
  if (typeof c.ociVersion !== 'string' || !/^1\./.test(c.ociVersion)) throw new ConfigError('ociVersion', 'must be a 1.x version string');
  for (const k of ['solaris', 'windows', 'vm', 'zos']) refuse(c[k], k);
  refuse(c.domainname, 'domainname');

  // root
  const root = obj(c.root, 'root');
  const rootPath = str(root.path, 'root.path');
  const rootfs = resolve(bundle, rootPath);
  if (!existsSync(rootfs) || !statSync(rootfs).isDirectory()) throw new ConfigError('root.path', `${rootPath} is not a directory`);

  // process
  if (c.process === undefined) throw new ConfigError('process', 'is required');
  const p = obj(c.process, 'process');
  for (const k of ['ioPriority', 'scheduler', 'execCPUAffinity', 'commandLine']) refuse(p[k], `process.${k}`);
  const args = strs(p.args, 'process.args');
  if (args.length === 0) throw new ConfigError('process.args', 'must not be empty');
  const cwd = str(p.cwd ?? '/', 'process.cwd');
  if (!isAbsolute(cwd)) throw new ConfigError('process.cwd', 'must be an absolute path');
  const env = strs(p.env, 'process.env');
  const user = obj(p.user, 'process.user');
  const uid = int(user.uid ?? 0, 'process.user.uid', 0), gid = int(user.gid ?? 0, 'process.user.gid', 0);
  const groups = arr(user.additionalGids, 'process.user.additionalGids').map((g, i) => int(g, `process.user.additionalGids[${i}]`, 0));
  const capsObj = obj(p.capabilities, 'process.capabilities');
  const bounding = capNames(capsObj.bounding, 'process.capabilities.bounding');
  const effective = capNames(capsObj.effective, 'process.capabilities.effective');
  const permitted = capNames(capsObj.permitted, 'process.capabilities.permitted');
  const inheritable = capNames(capsObj.inheritable, 'process.capabilities.inheritable');
  const ambient = capNames(capsObj.ambient, 'process.capabilities.ambient');
  const caps = CAPS.filter((n) => bounding.includes(n) || effective.includes(n));
  // skiff-exec's five-mask form: each set as the config gives it.
  const capSets = [bounding, effective, permitted, inheritable, ambient].map(capabilityMask).join(',');
  const rlimits = arr(p.rlimits, 'process.rlimits').map((x, i): Rlimit => {
    const o = obj(x, `process.rlimits[${i}]`);
    const type = str(o.type, `process.rlimits[${i}].type`);
    if (rlimitNumber(type) < 0) throw new ConfigError(`process.rlimits[${i}].type`, `"${type}" is not an rlimit`);
    return { type, soft: int(o.soft, `process.rlimits[${i}].soft`, 0), hard: int(o.hard, `process.rlimits[${i}].hard`, 0) };
  });
  const terminal = p.terminal === true;

  // linux
  const l = obj(c.linux, 'linux');
  for (const k of ['intelRdt', 'timeOffsets', 'memoryPolicy', 'netDevices']) refuse(l[k], `linux.${k}`);
  if (!unset(l.personality) && obj(l.personality, 'linux.personality').domain !== 'LINUX') refuse(l.personality, 'linux.personality');
  // The mount namespace is always new (skiff builds the root in it). pid, ipc
  // and uts are new when listed, joined when listed with a path (the thread
  // that clones enters them first, see container.ts), else the host's.
  let flags: number = CLONE.NEWNS;
  let netnsPath: string | undefined;
  const joins: Array<{ type: 'ipc' | 'uts' | 'pid'; path: string }> = [];
  let cgroupns = false;
  for (const [i, x] of arr(l.namespaces, 'linux.namespaces').entries()) {
    const ns = obj(x, `linux.namespaces[${i}]`);
    const type = str(ns.type, `linux.namespaces[${i}].type`);
    if (!(type in NS_FLAGS)) throw new ConfigError(`linux.namespaces[${i}].type`, `"${type}" is not supported`);
    if (!unset(ns.path)) {
      const path = str(ns.path, `linux.namespaces[${i}].path`);
      if (!existsSync(path)) throw new ConfigError(`linux.namespaces[${i}].path`, `${path} does not exist`);
      if (type === 'network') netnsPath = path;
      else if (type === 'ipc' || type === 'uts' || type === 'pid') joins.push({ type, path });
      else throw new ConfigError(`linux.namespaces[${i}].path`, `is not supported for a ${type} namespace (only network, ipc, uts and pid)`);
      continue;
    }
    if (type === 'cgroup') cgroupns = true;
    else flags |= NS_FLAGS[type];
  }
  if (joins.length && flags & CLONE.NEWUSER) throw new ConfigError('linux.namespaces', 'joining an ipc, uts or pid namespace by path is not supported together with a new user namespace');
  // A hostname needs a uts namespace of the container's own (new, or joined by path).
  const newUts = (flags & CLONE.NEWUTS) !== 0 || (joins.some((j) => j.type === 'uts') && !unset(c.hostname));
  if (!newUts && !unset(c.hostname)) throw new ConfigError('hostname', 'needs a uts namespace in linux.namespaces');
  const uidMappings = idMappings(l.uidMappings, 'linux.uidMappings');
  const gidMappings = idMappings(l.gidMappings, 'linux.gidMappings');
  const userns = (flags & CLONE.NEWUSER) !== 0;
  if (userns && (!uidMappings.length || !gidMappings.length)) throw new ConfigError('linux.uidMappings', 'is required with a user namespace');
  if (!userns && (uidMappings.length || gidMappings.length)) throw new ConfigError('linux.uidMappings', 'needs a user namespace in linux.namespaces');
  const hostRoot = (m: IdMapping[]) => m.find((x) => x.containerID === 0)?.hostID;
  const owner = userns && hostRoot(uidMappings) !== undefined ? { uid: hostRoot(uidMappings)!, gid: hostRoot(gidMappings) ?? 0 } : undefined;

  const sysctl: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(l.sysctl, 'linux.sysctl'))) {
    const ok = (k.startsWith('net.') && (flags & CLONE.NEWNET || netnsPath)) || /^(kernel\.(msg|sem|shm)|fs\.mqueue\.)/.test(k);
    if (!ok) throw new ConfigError(`linux.sysctl.${k}`, 'is not namespaced in this container (only net.* with a network namespace, kernel.msg*/sem*/shm* and fs.mqueue.*)');
    sysctl[k] = str(v, `linux.sysctl.${k}`);
  }

  const res = resources(l.resources);

  // mounts: the config's list, in its order; runc's default devices once /dev is there.
  const kcore = existsSync('/proc/kcore');
  const mounts: MountOp[] = [];
  let devDone = false;
  for (const [i, x] of arr(c.mounts, 'mounts').entries()) {
    const ops = translateMount(obj(x, `mounts[${i}]`), `mounts[${i}]`, bundle, input.cgroups);
    mounts.push(...ops);
    if (!devDone && ops[0]?.target === '/dev') {
      mounts.push(...devMounts(kcore));
      devDone = true;
    }
  }
  if (!devDone) mounts.push(...devMounts(kcore));
  // runc's default devices (null, zero, tty, ptys, ...) are always allowed, as in skiff run.
  const devices = res.devices ? deviceAllowList(false, res.devices) : undefined;
  for (const [i, x] of arr(l.devices, 'linux.devices').entries()) {
    const d = obj(x, `linux.devices[${i}]`);
    const path = str(d.path, `linux.devices[${i}].path`);
    const type = str(d.type, `linux.devices[${i}].type`);
    let host: ReturnType<typeof hostDevice> | undefined;
    try {
      host = hostDevice(path);
    } catch {
      host = undefined;
    }
    if (!['c', 'u', 'b', 'p'].includes(type)) throw new ConfigError(`linux.devices[${i}].type`, `"${type}" is not a device type`);
    const major = type === 'p' ? 0 : int(d.major, `linux.devices[${i}].major`, 0), minor = type === 'p' ? 0 : int(d.minor, `linux.devices[${i}].minor`, 0);
    const kind = type === 'u' ? 'c' : type as 'c' | 'b' | 'p';
    if (!isAbsolute(path)) throw new ConfigError(`linux.devices[${i}].path`, 'must be an absolute path');
    if (host && host.type === kind && host.major === major && host.minor === minor && d.fileMode === undefined && d.uid === undefined && d.gid === undefined) {
      // The host's own node: bound, which also works in a user namespace.
      mounts.push({ kind: 'bind', source: path, target: path, file: true });
    } else if (flags & CLONE.NEWUSER) {
      throw new ConfigError(`linux.devices[${i}]`, `(${path}) cannot be made in a user namespace, and the host has no such node to bind`);
    } else {
      mounts.push({
        kind: 'mknod', target: path, type: kind, major, minor, mode: d.fileMode === undefined ? 0o666 : int(d.fileMode, `linux.devices[${i}].fileMode`, 0),
        uid: d.uid === undefined ? 0 : int(d.uid, `linux.devices[${i}].uid`, 0), gid: d.gid === undefined ? 0 : int(d.gid, `linux.devices[${i}].gid`, 0),
      });
    }
    if (kind !== 'p') devices?.push({ type: kind, major, minor, access: 'rwm' });
  }
  if (input.consolePath) mounts.push({ kind: 'bind', source: input.consolePath, target: '/dev/console', file: true });
  for (const [i, m] of strs(l.maskedPaths, 'linux.maskedPaths').entries()) {
    if (!isAbsolute(m)) throw new ConfigError(`linux.maskedPaths[${i}]`, 'must be an absolute path');
    mounts.push({ kind: 'mask', target: m });
  }
  for (const [i, m] of strs(l.readonlyPaths, 'linux.readonlyPaths').entries()) {
    if (!isAbsolute(m)) throw new ConfigError(`linux.readonlyPaths[${i}]`, 'must be an absolute path');
    mounts.push({ kind: 'readonly', target: m });
  }

  // seccomp, compiled by skiff's own builder.
  let seccomp: string | null = null;
  if (!unset(l.seccomp)) {
    const s = obj(l.seccomp, 'linux.seccomp');
    refuse(s.listenerPath, 'linux.seccomp.listenerPath');
    refuse(s.listenerMetadata, 'linux.seccomp.listenerMetadata');
    const profile = { defaultAction: str(s.defaultAction, 'linux.seccomp.defaultAction'), defaultErrnoRet: s.defaultErrnoRet, syscalls: arr(s.syscalls, 'linux.seccomp.syscalls') } as Profile;
    for (const [i, r] of (profile.syscalls ?? []).entries()) {
      const a = str(obj(r, `linux.seccomp.syscalls[${i}]`).action, `linux.seccomp.syscalls[${i}].action`);
      if (['SCMP_ACT_NOTIFY', 'SCMP_ACT_TRACE'].includes(a)) throw new ConfigError(`linux.seccomp.syscalls[${i}].action`, `${a} is not supported`);
    }
    try {
      seccomp = compile(profile, caps).toString('base64');
    } catch (e) {
      throw new ConfigError('linux.seccomp', `cannot be compiled: ${(e as Error).message}`);
    }
  }

  // Without a new uts namespace, create keeps the name the namespace has (set there, once it stands in it).
  const hostname = c.hostname === undefined ? osHostname() : str(c.hostname, 'hostname');
  const spec: SandboxSpec = {
    security: { caps: capSets, seccomp, noNewPrivs: p.noNewPrivileges === true, readonlyRootfs: root.readonly === true },
    cgroupns,
    rootfs,
    hostname: hostname || osHostname(),
    mounts,
    process: { args, env, cwd, uid, gid, groups },
    ...(owner ? { owner } : {}),
  };
  return {
    spec, execCaps: capabilityMask(caps), flags, uidMappings, gidMappings, ...res, devices, rlimits, sysctl, hooks: hooksOf(c.hooks), terminal,
    ...(netnsPath ? { netnsPath } : {}), joins, newUts,
    ...(p.oomScoreAdj !== undefined ? { oomScoreAdj: int(p.oomScoreAdj, 'process.oomScoreAdj', -1000) } : {}),
    annotations: Object.fromEntries(Object.entries(obj(c.annotations, 'annotations')).map(([k, v]) => [k, str(v, `annotations.${k}`)])),
  };
}
