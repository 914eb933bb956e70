// The init stage. The C helper clones a child into new namespaces and execs
// `node init.js SPEC` there, so this runs as PID 1 of the container, with
// every thread of this Node process born inside the new namespaces (which is
// why JavaScript may make mount calls here at all). It sets up the mounts,
// pivots into the rootfs, drops to the container user and finally execve()s
// the container's command, which takes over PID 1.
//
// fd 3 is the error pipe: it is close-on-exec, so the parent sees EOF when
// execve succeeds, or a JSON InitFailure when anything fails.
import { accessSync, constants, statSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { execve, resetSignals, sethostname, setCloexec, setIds, chdir, umask, SyscallError } from '../../native-bindings/libc.js';
import { EXIT } from '../util/errors.js';
import { applyMounts, enterRootfs, isolateRootfs } from './mounts.js';
import type { InitFailure, SandboxSpec } from './spec.js';

class InitError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

/** PATH lookup with Go's exec.LookPath wording, which Docker users know. */
function lookPath(file: string, env: string[]): string {
  const check = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return false;
    }
    if (st.isDirectory()) throw new InitError(`exec: "${file}": is a directory`, EXIT.CANNOT_INVOKE);
    try {
      accessSync(p, constants.X_OK);
    } catch {
      throw new InitError(`exec: "${file}": permission denied`, EXIT.CANNOT_INVOKE);
    }
    return true;
  };
  if (file.includes('/')) {
    if (check(file)) return file;
    throw new InitError(`exec: "${file}": stat ${file}: no such file or directory`, EXIT.NOT_FOUND);
  }
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of path.split(':')) {
    const candidate = posix.join(dir || '.', file);
    if (check(candidate)) return candidate;
  }
  throw new InitError(`exec: "${file}": executable file not found in $PATH`, EXIT.NOT_FOUND);
}

function main(spec: SandboxSpec): never {
  isolateRootfs(spec.rootfs);
  applyMounts(spec.rootfs, spec.mounts);
  sethostname(spec.hostname);
  enterRootfs(spec.rootfs);
  umask(0o022);
  const p = spec.process;
  setIds(p.uid, p.gid, p.groups);
  try {
    chdir(p.cwd);
  } catch (e) {
    throw new InitError(`chdir to cwd ("${p.cwd}") set in config failed: ${(e as SyscallError).code}`, EXIT.RUNTIME);
  }
  const path = lookPath(p.args[0], p.env);
  // Node marks 0-2 close-on-exec; the command must keep them. fd 3 must not
  // survive: its closing is how the parent learns that execve succeeded.
  for (const fd of [0, 1, 2]) setCloexec(fd, false);
  setCloexec(3, true);
  resetSignals();
  try {
    return execve(path, p.args, p.env);
  } catch (e) {
    const err = e as SyscallError;
    if (err.code === 'ENOENT') throw new InitError(`exec: "${p.args[0]}": no such file or directory`, EXIT.NOT_FOUND);
    throw new InitError(`exec: "${p.args[0]}": ${err.code === 'EACCES' ? 'permission denied' : err.message}`, EXIT.CANNOT_INVOKE);
  }
}

try {
  main(JSON.parse(process.argv[2]) as SandboxSpec);
} catch (e) {
  const failure: InitFailure = e instanceof InitError
    ? { code: e.code, message: e.message }
    : { code: EXIT.RUNTIME, message: `container init: ${(e as Error).message}` };
  try {
    writeSync(3, JSON.stringify(failure));
  } catch {
    // the parent is gone; nobody to tell
  }
  process.exit(failure.code);
}
