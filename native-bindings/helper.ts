// koffi declarations of the C helper (skiff-helper.c), built by build.mjs.
import type { LibraryHandle } from 'koffi';

type Fn = ReturnType<LibraryHandle['func']>;
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { koffiLib, SyscallError } from './libc.js';

let root: string | undefined;
/**
 * The package root: the nearest directory above this file that holds
 * package.json (works from source, tsc output and bundle chunks alike).
 * Looked up on first use: `skiff ps` never needs it.
 */
export function packageRoot(): string {
  if (root === undefined) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    root = dir;
  }
  return root;
}
export const helperLibrary = (): string => join(packageRoot(), 'native-bindings', 'build', 'libskiff.so');
/** The static exec stub (skiff-exec.c) that the container's first process execs. */
export const execStub = (): string => join(packageRoot(), 'native-bindings', 'build', 'skiff-exec');
/** The static log-and-wait program a detached monitor execs into (skiff-shim.c). */
export const monitorShim = (): string => join(packageRoot(), 'native-bindings', 'build', 'skiff-shim');

let lib: LibraryHandle | undefined;
function load(): LibraryHandle {
  try {
    return (lib ??= koffiLib().load(helperLibrary()));
  } catch (e) {
    throw new Error(`cannot load ${helperLibrary()}: ${(e as Error).message}; run 'npm run build' to compile the C helper`);
  }
}

let _clone: Fn | undefined;
let _nsexec: Fn | undefined;

export const CLONE = {
  NEWNS: 0x00020000, NEWCGROUP: 0x02000000, NEWUTS: 0x04000000, NEWIPC: 0x08000000,
  NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000,
} as const;

export interface CloneRequest {
  flags: number;
  /** Read end of the sync pipe; the child waits on it twice (maps written; root built). */
  syncFd: number;
  /** A network namespace fd to join after the first sync, or -1 (optional). */
  netnsFd?: number;
  /** Descriptors that become 0, 1, 2, 3 (the error pipe) and 4 (skiff-exec's sync) in the child. */
  fds: number[];
  tty: boolean;
  /** With tty: the terminal's path inside the new root (/dev/pts/N), reopened there by the child. */
  ttyPath?: string;
  /** skiff-exec, open: the child execs it through this fd after pivot_root. */
  stubFd: number;
  argv: string[];
  env: string[];
  /** seccomp program (sock_filter array), or null; installed right before the exec. */
  seccomp: Buffer | null;
  noNewPrivs: boolean;
}

/** clone(2) into new namespaces (see skiff_clone in skiff-helper.c). Returns the child's host pid. */
export function cloneExec(r: CloneRequest): number {
  _clone ??= load().func('int skiff_clone(unsigned long flags, int sync_fd, int netns_fd, const int *fds, int nfds, int tty, int stub_fd, const char **argv, const char **envp, const void *bpf, int bpf_len, int nnp, const char *tty_path)');
  const pid = _clone(r.flags, r.syncFd, r.netnsFd ?? -1, r.fds, r.fds.length, r.tty ? 1 : 0, r.stubFd, [...r.argv, null], [...r.env, null],
    r.seccomp, r.seccomp?.length ?? 0, r.noNewPrivs ? 1 : 0, r.ttyPath ?? null) as number;
  if (pid < 0) throw new SyscallError('clone', r.argv[0], -pid);
  return pid;
}

let _holder: Fn | undefined;
/** A child in a new user namespace that exits once SYNCFD is written (or closed). */
export function usernsHolder(syncFd: number): number {
  _holder ??= load().func('int skiff_userns_holder(int sync_fd)');
  const pid = _holder(syncFd) as number;
  if (pid < 0) throw new SyscallError('clone(CLONE_NEWUSER)', undefined, -pid);
  return pid;
}

export interface NsExecRequest {
  /** Open /proc/PID/ns/* descriptors in join order (user first, mnt last). */
  nsFds: number[];
  syncFd: number;
  fds: number[];
  tty: boolean;
  uid: number;
  gid: number;
  groups: number[];
  cwd: string;
  argv: string[];
  env: string[];
  /** Write end of the error pipe: "stage:errno" arrives here on failure. */
  errFd: number;
  /** Capability mask (hex, bit N = capability N). */
  caps: string;
  /** seccomp program (sock_filter array), or null. */
  seccomp: Buffer | null;
  noNewPrivs: boolean;
}

/** setns into a running container and exec there. Returns the middle process's pid. */
export function nsExec(r: NsExecRequest): number {
  _nsexec ??= load().func('int skiff_nsexec(const int *ns_fds, int n_ns, int sync_fd, const int *fds, int nfds, int tty, uint32_t uid, uint32_t gid, const uint32_t *groups, int ngroups, const char *cwd, const char *file, const char **argv, const char **envp, int err_fd, unsigned long long caps, const void *bpf, int bpf_len, int nnp)');
  const pid = _nsexec(r.nsFds, r.nsFds.length, r.syncFd, r.fds, r.fds.length, r.tty ? 1 : 0, r.uid, r.gid,
    r.groups.length ? r.groups : null, r.groups.length, r.cwd, r.argv[0], [...r.argv, null], [...r.env, null], r.errFd,
    BigInt(`0x${r.caps}`), r.seccomp, r.seccomp?.length ?? 0, r.noNewPrivs ? 1 : 0) as number;
  if (pid < 0) throw new SyscallError('clone', r.argv[0], -pid);
  return pid;
}

let _sendFd: Fn | undefined;
/** Sends FD over the unix socket at PATH (SCM_RIGHTS), as runc's --console-socket does. */
export function sendFd(path: string, fd: number): void {
  _sendFd ??= load().func('int skiff_send_fd(const char *path, int fd)');
  const r = _sendFd(path, fd) as number;
  if (r < 0) throw new SyscallError('sendmsg', path, -r);
}
