// The container's mount table, as a plan (pure data, unit-tested) and the
// code that carries it out inside the container's new mount namespace (from
// the parent's main thread, which enters that namespace: see enter.ts).
import { chmodSync, closeSync, existsSync, lchownSync, mkdirSync, openSync, rmSync, symlinkSync, lstatSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { MS, MNT_DETACH, S_IFBLK, S_IFCHR, S_IFIFO, chdir, fsmountNsx, makedev, mknod, mount, moveMount, pivotRoot, umount2 } from '../../native-bindings/libc.js';
import { secureJoin } from './securejoin.js';

export type MountOp =
  /** A new filesystem instance (proc, sysfs, tmpfs, devpts, mqueue). */
  | { kind: 'fs'; fstype: string; source: string; target: string; flags: number; data?: string }
  /** A bind mount of a host path (device node or per-container /etc file). */
  | { kind: 'bind'; source: string; target: string; file: boolean; readonly?: boolean; flags?: number }
  | { kind: 'symlink'; target: string; linkTo: string }
  /** Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory. Skipped if absent. */
  | { kind: 'mask'; target: string }
  /** Make an existing path read-only (bind onto itself, remount ro). Skipped if absent. */
  | { kind: 'readonly'; target: string }
  /** Change the flags of a mount this plan made (e.g. make a tmpfs read-only once it is filled). */
  | { kind: 'remount'; target: string; flags: number }
  /** A device node or fifo made in place (skiff-runc's linux.devices; not possible in a user namespace). */
  | { kind: 'mknod'; target: string; type: 'c' | 'b' | 'p'; major: number; minor: number; mode: number; uid: number; gid: number };

export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** Docker's defaults: kernel interfaces a container must not read or write. */
export const MASKED_PATHS = ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface UserMounts {
  privileged?: boolean;
  /** -v HOST:CTR[:ro] */
  volumes?: Array<{ source: string; target: string; readonly: boolean }>;
  /** --tmpfs PATH[:opts] */
  tmpfs?: Array<{ target: string; options: string }>;
  /** --device HOST:CONTAINER: the host's node, bound into /dev (the device cgroup allows it). */
  devices?: Array<{ source: string; target: string }>;
}

/**
 * What /sys/fs/cgroup shows inside: the container's own cgroup directories,
 * bound from the host, so a program reading its limits (memory.max, say)
 * finds the container's. Once the container is in its cgroup namespace,
 * /proc/self/cgroup and mountinfo both call that directory "/".
 */
export interface CgroupView {
  /** cgroup v2 only: the container's cgroup2 directory becomes /sys/fs/cgroup. */
  unified?: string;
  /** v1 or hybrid: one directory per hierarchy on a tmpfs, named as on the host ("memory", "cpu,cpuacct", "unified"). */
  hierarchies?: Array<{ name: string; dir: string }>;
  /** Aliases as on the host: "cpu" -> "cpu,cpuacct". */
  links?: Array<{ name: string; to: string }>;
}

/** The mounts that make /sys/fs/cgroup; read-only unless --privileged (as in Docker). */
export function cgroupMounts(view: CgroupView, privileged: boolean): MountOp[] {
  const nsx = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const root = '/sys/fs/cgroup';
  if (view.unified) return [{ kind: 'bind', source: view.unified, target: root, file: false, readonly: !privileged, flags: nsx }];
  if (!view.hierarchies?.length) return [];
  const ops: MountOp[] = [
    // sysfs is read-only, so the per-hierarchy mount points live on a tmpfs.
    { kind: 'fs', fstype: 'tmpfs', source: 'tmpfs', target: root, flags: nsx, data: 'mode=755' },
    ...view.hierarchies.map((h): MountOp => ({
      kind: 'bind', source: h.dir, target: `${root}/${h.name}`, file: false, readonly: !privileged, flags: nsx,
    })),
    ...(view.links ?? []).map((l): MountOp => ({ kind: 'symlink', target: `${root}/${l.name}`, linkTo: l.to })),
  ];
  if (!privileged) ops.push({ kind: 'remount', target: root, flags: MS.BIND | MS.RDONLY | nsx });
  return ops;
}

/** Facts about the host and the terminal that change the plan. */
export interface PlanHost {
  /** Whether the host has /proc/kcore: /dev/core links to it only then (runc's rule). */
  kcore?: boolean;
  /** With -t: a devpts instance skiff mounted on the host and opened the terminal from; it becomes /dev/pts. */
  devpts?: string;
}

/** Docker's default mount set, then the user's, then masks: in the order they must be applied. */
export function mountPlan(etc: EtcFiles, consolePath?: string, user: UserMounts = {}, cgroups: CgroupView = {},
  { kcore = existsSync('/proc/kcore'), devpts }: PlanHost = {}): MountOp[] {
  const nsx = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const ops: MountOp[] = [
    { kind: 'fs', fstype: 'proc', source: 'proc', target: '/proc', flags: nsx },
    // sysfs shows the mounter's network namespace, so it must be mounted from inside it.
    { kind: 'fs', fstype: 'sysfs', source: 'sysfs', target: '/sys', flags: nsx | MS.RDONLY },
    { kind: 'fs', fstype: 'tmpfs', source: 'tmpfs', target: '/dev', flags: MS.NOSUID | MS.STRICTATIME, data: 'mode=755,size=65536k' },
    // Bind-mounting the host's nodes (rather than mknod) also works inside a
    // user namespace, where mknod is not allowed.
    ...DEVICES.map((d): MountOp => ({ kind: 'bind', source: `/dev/${d}`, target: `/dev/${d}`, file: true })),
    // A private devpts instance: the container sees only its own ptys. With
    // -t it is the instance the terminal was allocated from, so /dev/pts/0
    // inside is the container's stdio (what `tty` and `ps` show).
    devpts
      ? { kind: 'bind', source: devpts, target: '/dev/pts', file: false }
      : { kind: 'fs', fstype: 'devpts', source: 'devpts', target: '/dev/pts', flags: MS.NOSUID | MS.NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620,gid=5' },
    { kind: 'symlink', target: '/dev/ptmx', linkTo: 'pts/ptmx' },
    { kind: 'fs', fstype: 'tmpfs', source: 'shm', target: '/dev/shm', flags: nsx, data: 'mode=1777,size=65536k' },
    { kind: 'fs', fstype: 'mqueue', source: 'mqueue', target: '/dev/mqueue', flags: nsx },
    { kind: 'symlink', target: '/dev/fd', linkTo: '/proc/self/fd' },
    { kind: 'symlink', target: '/dev/stdin', linkTo: '/proc/self/fd/0' },
    { kind: 'symlink', target: '/dev/stdout', linkTo: '/proc/self/fd/1' },
    { kind: 'symlink', target: '/dev/stderr', linkTo: '/proc/self/fd/2' },
    ...(kcore ? [{ kind: 'symlink', target: '/dev/core', linkTo: '/proc/kcore' } as MountOp] : []),
    { kind: 'bind', source: etc.hostname, target: '/etc/hostname', file: true },
    { kind: 'bind', source: etc.hosts, target: '/etc/hosts', file: true },
    { kind: 'bind', source: etc.resolvConf, target: '/etc/resolv.conf', file: true },
    // df and mount read it (Docker's init layer has it too); an image's own is kept.
    { kind: 'symlink', target: '/etc/mtab', linkTo: '/proc/mounts' },
  ];
  if (consolePath) ops.push({ kind: 'bind', source: consolePath, target: '/dev/console', file: true });
  for (const d of user.devices ?? []) ops.push({ kind: 'bind', source: d.source, target: d.target, file: true });
  ops.push(...cgroupMounts(cgroups, !!user.privileged));
  for (const t of user.tmpfs ?? []) ops.push({ kind: 'fs', fstype: 'tmpfs', source: 'tmpfs', target: t.target, flags: nsx, data: t.options });
  for (const v of user.volumes ?? []) ops.push({ kind: 'bind', source: v.source, target: v.target, file: false, readonly: v.readonly });
  if (!user.privileged) {
    ops.push(...MASKED_PATHS.map((target): MountOp => ({ kind: 'mask', target })));
    ops.push(...READONLY_PATHS.map((target): MountOp => ({ kind: 'readonly', target })));
  }
  return ops;
}

/** What the interpreter is handed besides the plan. */
export interface MountContext {
  /**
   * A procfs context (fsopen fd, superblock created) from the container's
   * first process: procfs belongs to the pid namespace of whoever creates it,
   * and the code here runs in the parent, outside that pid namespace.
   */
  procFd?: number;
  /** Owner for what this plan creates (the container's root under --userns-remap). */
  owner?: { uid: number; gid: number };
}

/** Creates the mount point for `op` (a dir, or an empty file for file binds). */
function makeTarget(path: string, file: boolean, owner?: MountContext['owner']): void {
  if (existsSync(path)) return;
  const first = mkdirSync(file ? dirname(path) : path, { recursive: true });
  if (file) closeSync(openSync(path, 'a', 0o644));
  if (!owner) return;
  // Made by the parent, so owned by host root: give it to the container's root.
  if (first) for (let p = file ? dirname(path) : path; p.length >= first.length; p = dirname(p)) lchownSync(p, owner.uid, owner.gid);
  if (file) lchownSync(path, owner.uid, owner.gid);
}

/** tmpfs mounted by the parent would belong to host root; under userns it must be the container root's. */
function ownedData(op: Extract<MountOp, { kind: 'fs' }>, owner?: MountContext['owner']): string | null {
  if (!owner || op.fstype !== 'tmpfs') return op.data ?? null;
  return [op.data, `uid=${owner.uid}`, `gid=${owner.gid}`].filter(Boolean).join(',');
}

/** Applies the plan under `rootfs`. Runs in the container's mount namespace, before pivot_root. */
export function applyMounts(rootfs: string, ops: MountOp[], ctx: MountContext = {}): void {
  for (const op of ops) {
    // Resolve inside the rootfs on every step: an earlier mount may have
    // changed what a path means, and image symlinks must not lead out.
    // A symlink op looks at the link itself (an /etc/mtab kept from an
    // earlier start), so only its directory is resolved.
    const target = op.kind === 'symlink'
      ? join(secureJoin(rootfs, posix.dirname(op.target)), posix.basename(op.target))
      : secureJoin(rootfs, op.target);
    switch (op.kind) {
      case 'fs':
        makeTarget(target, false, ctx.owner);
        if (op.fstype === 'proc' && ctx.procFd !== undefined) {
          const m = fsmountNsx(ctx.procFd, target);
          try {
            moveMount(m, target);
          } finally {
            closeSync(m);
          }
        } else {
          mount(op.source, target, op.fstype, op.flags, ownedData(op, ctx.owner));
        }
        break;
      case 'bind':
        makeTarget(target, op.file || !statSync(op.source).isDirectory(), ctx.owner);
        mount(op.source, target, null, MS.BIND | MS.REC);
        // In a user namespace, flags such as nosuid that the source mount had
        // are locked: a remount must repeat them (op.flags) or it gets EPERM.
        if (op.readonly) mount(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.REC | (op.flags ?? 0));
        break;
      case 'symlink':
        if (!lstatSync(target, { throwIfNoEntry: false })) {
          symlinkSync(op.linkTo, target);
          if (ctx.owner) lchownSync(target, ctx.owner.uid, ctx.owner.gid);
        }
        break;
      case 'mask': {
        const st = lstatSync(target, { throwIfNoEntry: false });
        if (!st) break;
        if (st.isDirectory()) mount('tmpfs', target, 'tmpfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 'size=0');
        else mount('/dev/null', target, null, MS.BIND);
        break;
      }
      case 'readonly':
        if (!lstatSync(target, { throwIfNoEntry: false })) break;
        mount(target, target, null, MS.BIND | MS.REC);
        mount(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.REC | MS.NOSUID | MS.NODEV | MS.NOEXEC);
        break;
      case 'remount':
        mount(null, target, null, MS.REMOUNT | op.flags);
        break;
      case 'mknod':
        makeNode(target, op);
        break;
    }
  }
}

function makeNode(target: string, op: Extract<MountOp, { kind: 'mknod' }>): void {
  mkdirSync(dirname(target), { recursive: true });
  if (lstatSync(target, { throwIfNoEntry: false })) rmSync(target, { force: true });
  const type = op.type === 'b' ? S_IFBLK : op.type === 'p' ? S_IFIFO : S_IFCHR;
  mknod(target, type | (op.mode & 0o7777), makedev(op.major, op.minor));
  chmodSync(target, op.mode & 0o7777); // mknod's mode is masked by the umask
  lchownSync(target, op.uid, op.gid);
}

/** First step in a fresh mount namespace: stop propagation, make the rootfs a mount point. */
export function isolateRootfs(rootfs: string): void {
  // Nothing mounted from here on may propagate back to the host.
  mount(null, '/', null, MS.REC | MS.PRIVATE);
  // pivot_root needs the new root to be a mount point of this namespace.
  mount(rootfs, rootfs, null, MS.BIND | MS.REC);
}

/** --read-only: the rootfs mount itself (not the mounts on it) becomes read-only. */
export function readonlyRootfs(rootfs: string): void {
  mount(null, rootfs, null, MS.BIND | MS.REMOUNT | MS.RDONLY);
}

/**
 * Makes `rootfs` the root of this mount namespace and drops the host's root.
 * pivot_root(".", ".") stacks the old root on top of the new one; detaching
 * it then leaves no path back to the host (runc's trick: no put_old dir).
 */
export function enterRootfs(rootfs: string): void {
  chdir(rootfs);
  pivotRoot('.', '.');
  umount2('.', MNT_DETACH);
  chdir('/');
}
