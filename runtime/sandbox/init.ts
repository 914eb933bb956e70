// The init stage. The C helper clones a child into new namespaces and execs
// `node init.js SPEC` there, so this runs as PID 1 of the container, with
// every thread of this Node process born inside the new namespaces (which is
// why JavaScript may make mount calls here at all). It sets up the mounts,
// pivots into the rootfs, finds the command, and execs skiff-exec, which
// joins the cgroup, drops to the container user and execs the command.
//
// fd 3 is the error pipe to the parent: a JSON InitFailure arrives there if
// anything fails here; skiff-exec speaks on it afterwards.
import { accessSync, closeSync, constants, constants as fsConstants, openSync, statSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { posix } from 'node:path';
import { dup2, execveatFd, installSeccomp, resetSignals, sethostname, setCloexec, setNoNewPrivs, umask } from '../../native-bindings/libc.js';
import { EXIT } from '../util/errors.js';
import { applyMounts, enterRootfs, isolateRootfs, readonlyRootfs } from './mounts.js';
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

/**
 * The pty slave was opened on the host, through a path the container cannot
 * see; opened again by its own name it reads as /dev/pts/N in /proc/self/fd,
 * as a terminal opened inside does. It is the same terminal (and stays the
 * controlling one).
 */
function reopenTerminal(path: string): void {
  const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
  for (const n of [0, 1, 2]) if (isatty(n)) dup2(fd, n);
  closeSync(fd);
}

function main(spec: SandboxSpec): never {
  // Opened now: after pivot_root the host's files are out of reach.
  const stub = openSync(spec.execStub, 'r');
  isolateRootfs(spec.rootfs);
  applyMounts(spec.rootfs, spec.mounts);
  if (spec.security.readonlyRootfs) readonlyRootfs(spec.rootfs);
  sethostname(spec.hostname);
  enterRootfs(spec.rootfs);
  if (spec.tty) reopenTerminal(spec.tty);
  umask(0o022);
  const p = spec.process;
  const path = lookPath(p.args[0], p.env);
  // Node marks 0-2 close-on-exec; skiff-exec and the command must keep them,
  // and skiff-exec needs the error pipe (3) and its sync pipe (4).
  for (const fd of [0, 1, 2, 3, 4]) setCloexec(fd, false);
  resetSignals();
  // Both are per-thread and inherited across execve: this thread is the one
  // that execs skiff-exec, which execs the command.
  if (spec.security.noNewPrivs) setNoNewPrivs();
  if (spec.security.seccomp) installSeccomp(Buffer.from(spec.security.seccomp, 'base64'));
  // Hand over to skiff-exec: it joins the cgroup without Node's threads
  // and memory, drops privileges and execs the command.
  const groups = p.groups.length ? p.groups.join(',') : '-';
  return execveatFd(stub, ['skiff-exec', String(p.uid), String(p.gid), groups, spec.cgroupns ? '1' : '0', spec.security.caps, p.cwd, path, ...p.args], p.env);
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
