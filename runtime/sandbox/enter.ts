// Building the container's root filesystem from the parent, in one Node
// process.
//
// The container's first process (a C child, see skiff_clone) waits while
// this code, on Node's main thread, steps into the child's namespaces:
//
//   unshare(CLONE_FS)       the main thread gets its own root and cwd, so that
//                           it alone can change mount namespace (setns refuses
//                           a thread whose fs_struct is shared); libuv's pool
//                           threads stay on the host;
//   setns(net, uts, ipc)    sysfs shows the mounter's network namespace and
//                           mqueue its IPC namespace; sethostname changes the
//                           caller's UTS namespace;
//   setns(mnt)              last, since it resets root and cwd;
//   the mount plan, pivot_root(".", ".") — which also moves the waiting
//                           child's root, as its root was the old one;
//   setns back to the saved namespaces, fchdir back — always, also when a
//                           step throws.
//
// Only synchronous calls happen in between: no JavaScript of another task
// may run on this thread while it stands in the container's namespaces, and
// child processes spawned from it would be born there.
import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { CLONE_FS, NS_TYPE, close, fchdir, loopbackUp, sethostname, setns, unshare } from '../../native-bindings/libc.js';
import { EXIT, SkiffError } from '../util/errors.js';
import { applyMounts, enterRootfs, isolateRootfs, readonlyRootfs, type MountContext } from './mounts.js';
import type { SandboxSpec } from './spec.js';

type NsName = keyof typeof NS_TYPE;
/** setns order: the mount namespace last (entering it resets root and cwd). */
const ORDER: NsName[] = ['net', 'uts', 'ipc', 'mnt'];

/**
 * Runs FN on this thread inside PID's net, uts, ipc and mount namespaces,
 * then returns the thread to its own, whatever FN does.
 */
export function insideNamespacesOf<T>(pid: number, fn: () => T): T {
  // Every time, not once: threads Node starts later (libuv's pool, on its
  // first use) share this thread's fs_struct again, and setns(CLONE_NEWNS)
  // refuses a shared one with EINVAL. When nothing shares it, this is a no-op.
  unshare(CLONE_FS, 'CLONE_FS (the main thread\'s root and cwd)');
  const own = ORDER.map((ns) => openSync(`/proc/thread-self/ns/${ns}`, 'r'));
  const cwd = openSync('.', constants.O_RDONLY | constants.O_DIRECTORY);
  const theirs: number[] = [];
  try {
    for (const ns of ORDER) theirs.push(openSync(`/proc/${pid}/ns/${ns}`, 'r'));
    try {
      for (const [i, ns] of ORDER.entries()) setns(theirs[i], NS_TYPE[ns], `${ns} namespace of ${pid}`);
      return fn();
    } finally {
      // Home again (harmless for a namespace not left); a failure here throws
      // rather than leave this thread in the container unnoticed.
      for (const [i, ns] of ORDER.entries()) setns(own[i], NS_TYPE[ns], `own ${ns} namespace`);
      fchdir(cwd, 'the saved working directory');
    }
  } finally {
    for (const fd of [...own, ...theirs, cwd]) closeSync(fd);
  }
}

/** PATH lookup with Go's exec.LookPath wording, which Docker users know. Runs inside the new root. */
export function lookPath(file: string, env: string[]): string {
  const check = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return false;
    }
    if (st.isDirectory()) throw new SkiffError(`exec: "${file}": is a directory`, EXIT.CANNOT_INVOKE);
    try {
      accessSync(p, constants.X_OK);
    } catch {
      throw new SkiffError(`exec: "${file}": permission denied`, EXIT.CANNOT_INVOKE);
    }
    return true;
  };
  if (file.includes('/')) {
    if (check(file)) return file;
    throw new SkiffError(`exec: "${file}": stat ${file}: no such file or directory`, EXIT.NOT_FOUND);
  }
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of path.split(':')) {
    const candidate = posix.join(dir || '.', file);
    if (check(candidate)) return candidate;
  }
  throw new SkiffError(`exec: "${file}": executable file not found in $PATH`, EXIT.NOT_FOUND);
}

/**
 * Builds PID's root filesystem from SPEC and checks that its command exists:
 * the mount plan, the hostname, pivot_root. procFd is the child's procfs context.
 * Returns the command's path inside, as found there.
 */
export function buildRoot(pid: number, spec: SandboxSpec, procFd: number): string {
  const ctx: MountContext = { procFd, ...(spec.owner ? { owner: spec.owner } : {}) };
  try {
    return insideNamespacesOf(pid, () => {
      isolateRootfs(spec.rootfs);
      applyMounts(spec.rootfs, spec.mounts, ctx);
      if (spec.security.readonlyRootfs) readonlyRootfs(spec.rootfs);
      sethostname(spec.hostname);
      // A new network namespace starts with lo down; Docker and runc bring it up
      // (also with --network none). Harmless where it is already up (host, joined).
      loopbackUp();
      enterRootfs(spec.rootfs);
      return lookPath(spec.process.args[0], spec.process.env);
    });
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    throw new SkiffError(`container init: ${(e as Error).message}`, EXIT.RUNTIME);
  } finally {
    close(procFd);
  }
}
