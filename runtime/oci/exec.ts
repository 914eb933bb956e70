// skiff-runc exec: another process in a running container, through the same
// helper as `skiff exec` (skiff_nsexec: setns into PID 1's namespaces, fork,
// exec), with the process described by --process FILE (runc's process.json,
// as podman's conmon and containerd's shim pass it) or by flags.
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { nsExec } from '../../native-bindings/helper.js';
import { close, pipe, waitpidAsync, waitpidSync } from '../../native-bindings/libc.js';
import { joinCgroup } from '../cgroups/index.js';
import { execFailure } from '../container/exec.js';
import { readToEnd } from '../util/pipe.js';
import { CAPS, capabilityMask } from '../sandbox/capabilities.js';
import { ConfigError } from './config.js';
import { hostPty, sendConsole } from './console.js';
import { cgroupOf, load, RuncError, statusOf } from './state.js';

export interface ExecOptions {
  root: string;
  id: string;
  processFile?: string;
  args: string[];
  tty: boolean;
  consoleSocket?: string;
  detach: boolean;
  pidFile?: string;
  cwd?: string;
  env: string[];
  user?: string;
  capAdd: string[];
  noNewPrivs?: boolean;
}

const NAMESPACES = ['user', 'ipc', 'uts', 'net', 'cgroup', 'pid', 'mnt'];

interface Proc { args: string[]; env: string[]; cwd: string; uid: number; gid: number; groups: number[]; terminal: boolean; caps?: string[]; nnp?: boolean }

function fromFile(file: string): Proc {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError('process.json:', `cannot be read: ${(e as Error).message}`);
  }
  const user = (p.user ?? {}) as { uid?: number; gid?: number; additionalGids?: number[] };
  const caps = (p.capabilities ?? {}) as { bounding?: string[]; effective?: string[] };
  if (!Array.isArray(p.args) || !p.args.length) throw new RuncError('process.json: args must not be empty');
  return {
    args: p.args as string[], env: (p.env as string[] | undefined) ?? [], cwd: (p.cwd as string | undefined) ?? '/',
    uid: user.uid ?? 0, gid: user.gid ?? 0, groups: user.additionalGids ?? [], terminal: p.terminal === true,
    ...(caps.bounding || caps.effective ? { caps: [...(caps.bounding ?? []), ...(caps.effective ?? [])] } : {}),
    nnp: p.noNewPrivileges === true,
  };
}

export async function exec(o: ExecOptions): Promise<number> {
  const s = load(o.root, o.id);
  const status = statusOf(o.root, s);
  if (status !== 'running' && status !== 'created') throw new RuncError(status === 'paused' ? 'cannot exec in a paused container' : 'cannot exec in a stopped container');
  const p: Proc = o.processFile ? fromFile(o.processFile) : { args: o.args, env: s.env, cwd: s.cwd, uid: s.uid, gid: s.gid, groups: [], terminal: o.tty };
  if (!o.processFile) {
    if (!p.args.length) throw new RuncError('exec: args must not be empty');
    if (o.cwd) p.cwd = o.cwd;
    p.env = [...p.env, ...o.env];
    if (o.user) {
      const [u, g] = o.user.split(':');
      p.uid = Number(u);
      if (g !== undefined) p.gid = Number(g);
    }
    if (o.tty) p.terminal = true;
  }
  let caps = s.caps;
  if (p.caps) caps = capabilityMask(CAPS.filter((c) => p.caps!.some((x) => x.replace(/^CAP_/, '') === c)));
  if (p.terminal && !o.consoleSocket) throw new RuncError('cannot allocate tty if runc will detach without setting console socket');
  const pty = p.terminal ? hostPty() : undefined;
  const fds: [number, number, number] = pty ? [pty.slave, pty.slave, pty.slave] : [0, 1, 2];
  const wanted = NAMESPACES.filter((n) => n !== 'user' || s.userns);
  const nsFds = wanted.map((n) => openSync(`/proc/${s.pid}/ns/${n}`, 'r'));
  const [syncR, syncW] = pipe();
  const [errR, errW] = pipe();
  let middle: number;
  try {
    middle = nsExec({
      nsFds, syncFd: syncR, fds, tty: !!pty, uid: p.uid, gid: p.gid, groups: p.groups, cwd: p.cwd, argv: p.args, env: p.env, errFd: errW,
      caps, seccomp: s.seccomp ? Buffer.from(s.seccomp, 'base64') : null, noNewPrivs: s.noNewPrivs || !!p.nnp || !!o.noNewPrivs,
    });
  } finally {
    close(syncR);
    close(errW);
    nsFds.forEach((fd) => closeSync(fd));
    if (pty) closeSync(pty.slave);
  }
  let report = '';
  try {
    joinCgroup(cgroupOf(s), middle);
    writeSync(syncW, 'x');
  } finally {
    close(syncW);
    report = readToEnd(errR);
    close(errR);
  }
  if (report) {
    waitpidSync(middle);
    if (pty) closeSync(pty.master);
    const e = execFailure(report, p.args[0], p.cwd);
    throw new RuncError(e.message, 255);
  }
  if (pty && o.consoleSocket) {
    sendConsole(o.consoleSocket, pty.master);
    closeSync(pty.master);
  }
  if (o.pidFile) {
    const abs = resolve(o.pidFile);
    const tmp = join(dirname(abs), `.${process.pid}.pid.tmp`);
    writeFileSync(tmp, String(middle));
    renameSync(tmp, abs);
  }
  if (o.detach) return 0;
  return waitpidAsync(middle);
}
