// `skiff exec`: run another process inside a running container.
//
// The C helper's skiff_nsexec() forks a middle process that setns()es into
// each of PID 1's namespaces (user first, mount last) and forks again, since
// joining a pid namespace only applies to children. The grandchild switches
// user, chdirs and execs. The parent puts the middle process in the
// container's cgroup during the sync window, so the grandchild is born there.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { nsExec } from '../../native-bindings/helper.js';
import { close, pipe, waitpidAsync, waitpidSync } from '../../native-bindings/libc.js';
import { detectHostLayout } from '../cgroups/detect.js';
import { joinCgroup, warmMigrationLock } from '../cgroups/lifecycle.js';
import { cgroupOf } from './cgroup.js';
import { secureJoin } from '../sandbox/securejoin.js';
import { errnoText, EXIT, SkiffError } from '../util/errors.js';
import { mergeEnv } from './env.js';
import { attachedIo, type ContainerIo } from './io.js';
import { chownPty, execPty, type Pty } from './pty.js';
import { findLive } from './lifecycle.js';
import { readToEnd } from '../util/pipe.js';
import { resolveUser } from './user.js';
import { checkWorkdir, resolveWorkdir } from './workdir.js';
import { seccompSummary, securitySpec } from './security.js';
import { explain } from '../teach/explain.js';
import * as narrate from '../teach/narrate.js';

export interface ExecOptions {
  cmd: string[];
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  env?: string[];
  workdir?: string;
  user?: string;
  /**
   * The process's stdio, when not this process's own (the Engine API streams
   * it to a socket); as a function, it is given the allocator of a terminal
   * in the container (with -t).
   */
  io?: ContainerIo | ((pty: () => Pty) => ContainerIo);
}

/** Join order matters: the user namespace grants the rights to join the rest; mnt goes last because it changes what /proc paths mean. */
const NAMESPACES = ['user', 'ipc', 'uts', 'net', 'cgroup', 'pid', 'mnt'];

function readIn(root: string, path: string): string {
  try {
    return readFileSync(secureJoin(root, path), 'utf8');
  } catch {
    return '';
  }
}

/** Maps the helper's "stage:errno" report to Docker's message and exit code. */
export function execFailure(report: string, file: string, cwd: string): SkiffError {
  const [stage, num] = report.trim().split(':');
  const errno = Number(num);
  if (stage === 'lookup') return new SkiffError(`exec: "${file}": executable file not found in $PATH`, EXIT.NOT_FOUND);
  if (stage === 'exec' && errno === constants.errno.ENOENT) return new SkiffError(`exec: "${file}": no such file or directory`, EXIT.NOT_FOUND);
  if (stage === 'exec' && errno === constants.errno.EACCES) return new SkiffError(`exec: "${file}": permission denied`, EXIT.CANNOT_INVOKE);
  if (stage === 'chdir') return new SkiffError(`chdir to cwd ("${cwd}") failed: ${errnoText(errno)}`, EXIT.CANNOT_INVOKE);
  return new SkiffError(`exec failed at ${stage}: ${errnoText(errno)}`, stage === 'exec' ? EXIT.CANNOT_INVOKE : EXIT.RUNTIME);
}

export async function execInContainer(ref: string, opts: ExecOptions): Promise<number> {
  // First of all: the join below would otherwise wait ~10 ms for the
  // kernel's cgroup lock, and the steps until then are few.
  const layout = detectHostLayout();
  warmMigrationLock(layout);
  const rec = findLive(ref);
  if (!rec.State.Running) throw new SkiffError(`container ${rec.Id} is not running`, 1);
  // A process born into a frozen cgroup would hang until the thaw.
  if (rec.State.Paused) throw new SkiffError(`Container ${rec.Id} is paused, unpause the container before exec`, 1);
  if (opts.cmd.length === 0) throw new SkiffError('exec needs a command to run');
  checkWorkdir(opts.workdir);
  const cg = cgroupOf(rec, layout);
  const pid = rec.State.Pid;
  const root = `/proc/${pid}/root`;
  const user = resolveUser(opts.user ?? rec.Config.User, readIn(root, '/etc/passwd'), readIn(root, '/etc/group'));
  const env = mergeEnv(rec.Config.Env, [`HOME=${user.home}`], opts.tty ? ['TERM=xterm'] : [], opts.env ?? []);
  const cwd = resolveWorkdir(root, opts.workdir || rec.Config.WorkingDir || '/').inside;
  const wanted = NAMESPACES.filter((n) => n !== 'user' || rec.Skiff.Userns);
  const nsFds = wanted.map((n) => openSync(`/proc/${pid}/ns/${n}`, 'r'));

  const makePty = () => {
    const pty = execPty(pid);
    chownPty(pty.slave, user.uid, rec.Skiff.Userns);
    return pty;
  };
  const io: ContainerIo = typeof opts.io === 'function' ? opts.io(makePty) : opts.io ?? (opts.detach
    ? { stdio: { fds: [openSync('/dev/null', 'r'), openSync('/dev/null', 'w'), openSync('/dev/null', 'w')] as [number, number, number] }, started() {}, async finish() {} }
    : attachedIo({ tty: !!opts.tty, interactive: !!opts.interactive, pty: makePty }));
  const security = securitySpec(rec.HostConfig);
  const [syncR, syncW] = pipe();
  const [errR, errW] = pipe();
  let middle: number;
  try {
    middle = nsExec({
      nsFds, syncFd: syncR, fds: io.stdio.fds, tty: !!io.stdio.ttyPath, uid: user.uid, gid: user.gid, groups: user.groups,
      cwd, argv: opts.cmd, env, errFd: errW,
      caps: security.caps, seccomp: security.seccomp ? Buffer.from(security.seccomp, 'base64') : null, noNewPrivs: security.noNewPrivs,
    });
  } finally {
    close(syncR);
    close(errW);
    nsFds.forEach((fd) => closeSync(fd));
  }
  explain(() => narrate.setnsStep(pid, middle, wanted));
  let report = '';
  try {
    joinCgroup(cg, middle);
    explain(() => [narrate.joinStep(cg, middle), ...narrate.securitySteps(middle, security,
      { args: opts.cmd, env, cwd, uid: user.uid, gid: user.gid, groups: user.groups }, seccompSummary(rec.HostConfig))]);
    writeSync(syncW, 'x');
  } finally {
    close(syncW);
    report = readToEnd(errR);
    close(errR);
  }
  if (report) {
    waitpidSync(middle);
    await io.finish();
    throw execFailure(report, opts.cmd[0], cwd);
  }
  explain(() => narrate.execveStep(middle, opts.cmd[0], opts.cmd, env.length));
  if (opts.detach) return 0;
  io.started();
  const code = await waitpidAsync(middle);
  await io.finish();
  explain(() => narrate.exitStep(rec.Id, code, false, []));
  return code;
}
