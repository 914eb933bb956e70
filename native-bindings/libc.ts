// Typed koffi declarations of the libc calls skiff makes, with errno handling.
// Every wrapper throws a SyscallError that names the call and the path, so a
// failure reads like "mount /var/lib/skiff/.../proc: EPERM (Operation not permitted)".
// Nothing but declarations and errno handling belongs in this folder.
import type koffiModule from 'koffi';
import type { LibraryHandle } from 'koffi';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

// koffi, libc and each function load on first use: commands that make no
// call through them (ps, images, inspect) do not pay koffi's ~10 ms.
let _koffi: typeof koffiModule | undefined;
export function koffiLib(): typeof koffiModule {
  return (_koffi ??= loadKoffi());
}

/**
 * koffi's entry point finds its prebuilt addon by parsing node's own ELF
 * header and probing several directories: ~7 ms of every start. On glibc
 * Linux the addon is one known file of the platform package npm installed
 * next to it (the same version: koffi pins it), and loading it directly
 * takes ~3 ms. Anywhere else (musl, a missing file) koffi's entry decides.
 */
function loadKoffi(): typeof koffiModule {
  // The CLI bundle is CommonJS and has its own require(); createRequire
  // would load node:module, and Node's ESM loader with it (~1 ms).
  const require = typeof module === 'object' ? module.require.bind(module) : createRequire(import.meta.url);
  const { platform, arch } = process;
  try {
    return require(`@koromix/koffi-${platform}-${arch}/${platform}_${arch}/koffi.node`) as typeof koffiModule;
  } catch {
    // fall through to koffi's own loader
  }
  return require('koffi') as typeof koffiModule;
}
let _libc: LibraryHandle | undefined;
type Fn = ReturnType<LibraryHandle['func']>;
function decl(proto: string): () => Fn {
  let f: Fn | undefined;
  return () => (f ??= (_libc ??= koffiLib().load('libc.so.6')).func(proto));
}

// Built on the first error: reading os.constants loads node:os, which a `ps` never needs.
let errnoNames: Record<number, string> | undefined;
const errnoName = (errno: number): string | undefined =>
  (errnoNames ??= Object.fromEntries(Object.entries(constants.errno).map(([name, num]) => [num, name])))[errno];
const strerror = decl('const char *strerror(int errnum)');

export class SyscallError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(readonly call: string, readonly path: string | undefined, errno: number) {
    const code = errnoName(errno) ?? `errno ${errno}`;
    super(`${call}${path ? ` ${path}` : ''}: ${code} (${strerror()(errno)})`);
    this.errno = errno;
    this.code = code;
  }
}

/** Throws if a libc call returned -1 (or any negative value). */
function check(ret: number, call: string, path?: string): number {
  if (ret < 0) throw new SyscallError(call, path, koffiLib().errno());
  return ret;
}

// ---- mounts -------------------------------------------------------------
export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, REMOUNT: 0x20, NOATIME: 0x400,
  BIND: 0x1000, MOVE: 0x2000, REC: 0x4000, PRIVATE: 1 << 18, SLAVE: 1 << 19, RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
} as const;
export const MNT_DETACH = 2;

const _mount = decl('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)');
const _umount2 = decl('int umount2(const char *target, int flags)');
const _syscall = decl('long syscall(long nr, ...)');

export function mount(src: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check(_mount()(src, target, fstype, flags, data), `mount${fstype ? `(${fstype})` : ''}`, target);
}
export function umount2(target: string, flags = 0): void {
  check(_umount2()(target, flags), 'umount2', target);
}
/** pivot_root has no glibc wrapper; SYS_pivot_root is 155 on x86-64. */
export function pivotRoot(newRoot: string, putOld: string): void {
  check(Number(_syscall()(155, 'const char *', newRoot, 'const char *', putOld)), 'pivot_root', newRoot);
}

// ---- idmapped mounts (x86-64 syscall numbers) ----------------------------
const SYS_open_tree = 428, SYS_move_mount = 429, SYS_mount_setattr = 442;
export const OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = 0o2000000, AT_RECURSIVE = 0x8000;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOUNT_ATTR_IDMAP = 0x100000;
const AT_FDCWD = -100;

export function openTree(path: string, flags: number): number {
  return check(Number(_syscall()(SYS_open_tree, 'int', AT_FDCWD, 'const char *', path, 'unsigned int', flags)), 'open_tree', path);
}
export function mountSetattrIdmap(fd: number, usernsFd: number, path: string): void {
  // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
  const attr = Buffer.alloc(32);
  attr.writeBigUInt64LE(BigInt(MOUNT_ATTR_IDMAP), 0);
  attr.writeBigUInt64LE(BigInt(usernsFd), 24);
  check(Number(_syscall()(SYS_mount_setattr, 'int', fd, 'const char *', '', 'unsigned int', 0x1000 /* AT_EMPTY_PATH */,
    'void *', attr, 'size_t', attr.length)), 'mount_setattr(MOUNT_ATTR_IDMAP)', path);
}
const SYS_fsmount = 432;
const MOUNT_ATTR = { NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8 } as const;
/** fsmount(2) of a created fs context, nosuid,nodev,noexec: a detached mount's fd (close-on-exec). */
export function fsmountNsx(fsFd: number, what: string): number {
  return check(Number(_syscall()(SYS_fsmount, 'int', fsFd, 'unsigned int', 1 /* FSMOUNT_CLOEXEC */,
    'unsigned int', MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC)), 'fsmount', what);
}
export function moveMount(fd: number, target: string): void {
  check(Number(_syscall()(SYS_move_mount, 'int', fd, 'const char *', '', 'int', AT_FDCWD, 'const char *', target,
    'unsigned int', MOVE_MOUNT_F_EMPTY_PATH)), 'move_mount', target);
}

// ---- process setup ------------------------------------------------------------
const _sethostname = decl('int sethostname(const char *name, size_t len)');
const _chdir = decl('int chdir(const char *path)');
const _execve = decl('int execve(const char *path, const char **argv, const char **envp)');
const _fcntl = decl('int fcntl(int fd, int cmd, ...)');
const _umask = decl('uint32_t umask(uint32_t mask)');

export function sethostname(name: string): void {
  check(_sethostname()(name, Buffer.byteLength(name)), 'sethostname', name);
}
export function chdir(path: string): void {
  check(_chdir()(path), 'chdir', path);
}
/** Only returns by throwing: on success the process image is replaced. */
export function execve(path: string, argv: string[], env: string[]): never {
  _execve()(path, [...argv, null], [...env, null]);
  throw new SyscallError('execve', path, koffiLib().errno());
}
const _dup2 = decl('int dup2(int oldfd, int newfd)');
export function dup2(oldfd: number, newfd: number): void {
  check(_dup2()(oldfd, newfd), 'dup2', `fd ${newfd}`);
}
const F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
export function setCloexec(fd: number, on: boolean): void {
  const flags = check(_fcntl()(fd, F_GETFD), 'fcntl(F_GETFD)', `fd ${fd}`);
  check(_fcntl()(fd, F_SETFD, 'int', on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC), 'fcntl(F_SETFD)', `fd ${fd}`);
}
const F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0o4000;
export function setNonblock(fd: number, on: boolean): void {
  const flags = check(_fcntl()(fd, F_GETFL), 'fcntl(F_GETFL)', `fd ${fd}`);
  check(_fcntl()(fd, F_SETFL, 'int', on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK), 'fcntl(F_SETFL)', `fd ${fd}`);
}
export function umask(mask: number): number {
  return _umask()(mask);
}

// ---- files the fs module cannot make ------------------------------------
const _mknod = decl('int mknod(const char *path, uint32_t mode, uint64_t dev)');
const _lsetxattr = decl('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');

export const S_IFCHR = 0o020000, S_IFBLK = 0o060000, S_IFIFO = 0o010000;
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}
export function mknod(path: string, mode: number, dev: bigint = 0n): void {
  check(_mknod()(path, mode, dev), 'mknod', path);
}
export function lsetxattr(path: string, name: string, value: Buffer): void {
  check(_lsetxattr()(path, name, value, value.length, 0), `lsetxattr(${name})`, path);
}

// ---- pipes, ptys and waiting ---------------------------------------------
const _pipe2 = decl('int pipe2(void *fds, int flags)');
const _unlockpt = decl('int unlockpt(int fd)');
const _ioctl = decl('int ioctl(int fd, unsigned long req, ...)');
const _waitpid = decl('int waitpid(int pid, void *status, int options)');
const _close = decl('int close(int fd)');

export const O_CLOEXEC = 0o2000000, O_RDWR = 2, O_NOCTTY = 0o400;

/** Returns [readEnd, writeEnd], both close-on-exec. */
export function pipe(): [number, number] {
  const buf = Buffer.alloc(8);
  check(_pipe2()(buf, O_CLOEXEC), 'pipe2');
  return [buf.readInt32LE(0), buf.readInt32LE(4)];
}
export function close(fd: number): void {
  _close()(fd);
}
const TIOCGPTN = 0x80045430, TIOCGPTPEER = 0x5441;
/** The pty number N of a master (its slave is pts/N of the master's own devpts instance). */
export function ptyNumber(master: number): number {
  const n = Buffer.alloc(4);
  check(_ioctl()(master, TIOCGPTN, 'void *', n), 'ioctl(TIOCGPTN)');
  return n.readUInt32LE(0);
}
export function unlockPty(master: number): void {
  check(_unlockpt()(master), 'unlockpt');
}
/** Opens a master's slave without a path lookup (TIOCGPTPEER): it cannot be redirected by a symlink. */
export function ptyPeer(master: number, flags: number): number {
  return check(_ioctl()(master, TIOCGPTPEER, 'int', flags), 'ioctl(TIOCGPTPEER)');
}
// chattr's attributes: FS_IOC_GETFLAGS/SETFLAGS read and write an int, whatever their _IOR(long) says.
const FS_IOC_GETFLAGS = 0x80086601, FS_IOC_SETFLAGS = 0x40086602;
/** FS_TOPDIR_FL (chattr +T): ext2/3/4's Orlov allocator spreads this directory's subdirectories over block groups. */
export const FS_TOPDIR_FL = 0x00020000;
/** The inode flags (FS_*_FL) of an open file or directory. */
export function inodeFlags(fd: number, path: string): number {
  const flags = Buffer.alloc(8);
  check(_ioctl()(fd, FS_IOC_GETFLAGS, 'void *', flags), 'ioctl(FS_IOC_GETFLAGS)', path);
  return flags.readInt32LE(0);
}
export function setInodeFlags(fd: number, path: string, value: number): void {
  const flags = Buffer.alloc(8);
  flags.writeInt32LE(value, 0);
  check(_ioctl()(fd, FS_IOC_SETFLAGS, 'void *', flags), 'ioctl(FS_IOC_SETFLAGS)', path);
}
const SYS_openat2 = 437, RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_IN_ROOT = 0x10;
/** openat2(dirfd, path, RESOLVE_IN_ROOT): symlinks, even absolute ones, resolve inside dirfd. */
export function openInRoot(dirfd: number, path: string, flags: number): number {
  // struct open_how { u64 flags, mode, resolve; }
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), 16);
  return check(Number(_syscall()(SYS_openat2, 'int', dirfd, 'const char *', path, 'void *', how, 'size_t', how.length)), 'openat2', path);
}
const _socket = decl('int socket(int domain, int type, int protocol)');
const _connect = decl('int connect(int fd, const void *addr, uint32_t len)');
const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000;
const _bind = decl('int bind(int fd, const void *addr, uint32_t len)');
const _listen = decl('int listen(int fd, int backlog)');
/** struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; } */
function unixAddr(path: string, call: string): Buffer {
  if (Buffer.byteLength(path) > 107) throw new SyscallError(call, path, constants.errno.ENAMETOOLONG);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(path, 2);
  return addr;
}
/** A blocking, close-on-exec stream socket connected to the unix socket at PATH (at most 107 bytes). */
export function connectUnix(path: string): number {
  const addr = unixAddr(path, 'connect');
  const fd = check(_socket()(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket', path);
  if (_connect()(fd, addr, addr.length) < 0) {
    const e = koffiLib().errno();
    _close()(fd);
    throw new SyscallError('connect', path, e);
  }
  return fd;
}
/** A close-on-exec unix stream socket listening at PATH (at most 107 bytes). */
export function listenUnix(path: string): number {
  const addr = unixAddr(path, 'bind');
  const fd = check(_socket()(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket', path);
  if (_bind()(fd, addr, addr.length) < 0 || _listen()(fd, 16) < 0) {
    const e = koffiLib().errno();
    _close()(fd);
    throw new SyscallError('bind', path, e);
  }
  return fd;
}
const TIOCSWINSZ = 0x5414;
export function setWinsize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  check(_ioctl()(fd, TIOCSWINSZ, 'void *', ws), 'ioctl(TIOCSWINSZ)');
}

const AF_INET = 2, SOCK_DGRAM = 2, SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914, IFF_UP = 0x1;
/** Sets the calling thread's network namespace's `lo` up (struct ifreq: 16-byte name, then short flags). */
export function loopbackUp(): void {
  const fd = check(_socket()(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), 'socket(AF_INET)');
  try {
    const ifr = Buffer.alloc(40);
    ifr.write('lo', 0, 'latin1');
    check(_ioctl()(fd, SIOCGIFFLAGS, 'void *', ifr), 'ioctl(SIOCGIFFLAGS)', 'lo');
    ifr.writeInt16LE(ifr.readInt16LE(16) | IFF_UP, 16);
    check(_ioctl()(fd, SIOCSIFFLAGS, 'void *', ifr), 'ioctl(SIOCSIFFLAGS)', 'lo');
  } finally {
    _close()(fd);
  }
}

/** Decodes a wait status into Docker's exit code (128+N for signal N). */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}

/** waitpid on a koffi worker thread, so the event loop keeps running. */
export function waitpidAsync(pid: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const status = Buffer.alloc(4);
    const attempt = () =>
      _waitpid().async(pid, status, 0, (err: unknown, ret: number) => {
        if (err) return reject(err);
        if (ret < 0) {
          const e = koffiLib().errno();
          if (e === constants.errno.EINTR) return attempt();
          return reject(new SyscallError('waitpid', String(pid), e));
        }
        resolve(exitCodeOf(status.readInt32LE(0)));
      });
    attempt();
  });
}
export function waitpidSync(pid: number): number {
  const status = Buffer.alloc(4);
  check(_waitpid()(pid, status, 0), 'waitpid', String(pid));
  return exitCodeOf(status.readInt32LE(0));
}

// ---- locks ----------------------------------------------------------------
const _flock = decl('int flock(int fd, int op)');
export const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
/** Blocking flock(2). The kernel drops it when the process dies, so no lock goes stale. */
export function flock(fd: number, op: number, path?: string): void {
  for (;;) {
    if (_flock()(fd, op) === 0) return;
    const e = koffiLib().errno();
    if (e !== constants.errno.EINTR) throw new SyscallError('flock', path, e);
  }
}

// ---- extended attributes (reading) ------------------------------------------
const _lgetxattr = decl('long lgetxattr(const char *path, const char *name, void *value, size_t size)');
/** The value of one xattr, or undefined when the file has none by that name. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(256);
  const n = Number(_lgetxattr()(path, name, buf, buf.length));
  if (n < 0) {
    const e = koffiLib().errno();
    if (e === constants.errno.ENODATA || e === constants.errno.ENOTSUP) return undefined;
    throw new SyscallError(`lgetxattr(${name})`, path, e);
  }
  return buf.subarray(0, n);
}

// ---- eBPF: cgroup device programs -------------------------------------------
const SYS_bpf = 321;
const BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15, BPF_CGROUP_DEVICE = 6, BPF_F_ALLOW_MULTI = 2;

/** bpf(BPF_PROG_LOAD): returns the program's fd; the verifier's log is part of the error. */
export function bpfProgLoad(progType: number, insns: Buffer, license: string, name: string): number {
  const lic = Buffer.from(`${license}\0`);
  const log = Buffer.alloc(64 * 1024);
  // union bpf_attr, the BPF_PROG_LOAD member; the kernel wants unused bytes zeroed.
  const attr = Buffer.alloc(128);
  attr.writeUInt32LE(progType, 0);
  attr.writeUInt32LE(insns.length / 8, 4);
  attr.writeBigUInt64LE(BigInt(koffiLib().address(insns)), 8);
  attr.writeBigUInt64LE(BigInt(koffiLib().address(lic)), 16);
  attr.writeUInt32LE(1, 24); // log_level
  attr.writeUInt32LE(log.length, 28);
  attr.writeBigUInt64LE(BigInt(koffiLib().address(log)), 32);
  attr.write(name.slice(0, 15), 48, 'latin1');
  const fd = Number(_syscall()(SYS_bpf, 'int', BPF_PROG_LOAD, 'void *', attr, 'unsigned int', attr.length));
  if (fd < 0) {
    const err = new SyscallError('bpf(BPF_PROG_LOAD)', name, koffiLib().errno());
    const text = log.subarray(0, log.indexOf(0)).toString('utf8').trim();
    if (text) err.message += `; verifier: ${text.split('\n').slice(-3).join(' | ')}`;
    throw err;
  }
  return fd;
}

/** bpf(BPF_PROG_ATTACH) of PROGFD to the cgroup directory open as TARGETFD. */
export function bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number, path: string): void {
  const attr = Buffer.alloc(32);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  attr.writeUInt32LE(flags, 12);
  check(Number(_syscall()(SYS_bpf, 'int', BPF_PROG_ATTACH, 'void *', attr, 'unsigned int', attr.length)), 'bpf(BPF_PROG_ATTACH)', path);
}

// ---- entering another process's namespaces (one thread at a time) ----------
const _setns = decl('int setns(int fd, int nstype)');
const _unshare = decl('int unshare(int flags)');
const _fchdir = decl('int fchdir(int fd)');
export const CLONE_FS = 0x00000200;
export const NS_TYPE = { mnt: 0x00020000, uts: 0x04000000, ipc: 0x08000000, net: 0x40000000 } as const;

/** setns(2) for the calling thread. */
export function setns(fd: number, nstype: number, what: string): void {
  check(_setns()(fd, nstype), 'setns', what);
}
export function unshare(flags: number, what: string): void {
  check(_unshare()(flags), 'unshare', what);
}
export function fchdir(fd: number, what: string): void {
  check(_fchdir()(fd), 'fchdir', what);
}
const SYS_pidfd_open = 434, SYS_pidfd_getfd = 438;
/** A copy of descriptor FD of process PID (pidfd_getfd, Linux >= 5.6), close-on-exec. */
export function pidfdGetfd(pid: number, fd: number): number {
  const pidfd = check(Number(_syscall()(SYS_pidfd_open, 'int', pid, 'unsigned int', 0)), 'pidfd_open', String(pid));
  try {
    return check(Number(_syscall()(SYS_pidfd_getfd, 'int', pidfd, 'int', fd, 'unsigned int', 0)), 'pidfd_getfd', `${pid}:${fd}`);
  } finally {
    _close()(pidfd);
  }
}

// ---- rlimits (skiff-runc: process.rlimits, set on the container's first process before it execs) ----
const _prlimit = decl('int prlimit(int pid, int resource, const void *newLimit, void *oldLimit)');
/** prlimit(2) on another process; soft/hard as numbers (2^64-1 means unlimited). */
export function prlimit(pid: number, resource: number, soft: bigint, hard: bigint, what: string): void {
  const buf = Buffer.alloc(16);
  buf.writeBigUInt64LE(soft, 0);
  buf.writeBigUInt64LE(hard, 8);
  check(_prlimit()(pid, resource, buf, null), 'prlimit', what);
}
