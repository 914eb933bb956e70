// Starting a container: the parent's side (the full picture is in the README).
//
//   parent (this file, Node)            child
//   ------------------------            -----
//   mount overlay rootfs; mkdir cgroup, write limits; lease an address
//   skiff_clone(NEWPID|NEWNS|...)  -->  [C] blocks on the sync pipe
//   write uid/gid maps (userns)
//   write 1 byte on the sync pipe  -->  [C] setresuid(0) in the userns, stdio, execve(node init.js SPEC)
//   wire the veth (while init boots)    [init, Node] mounts, pivot_root, sethostname, PATH lookup,
//                                       seccomp, execveat(skiff-exec)
//   error pipe says "R"            <--  [skiff-exec, C] Node is gone; waits on the exec pipe
//   join PID to the cgroup
//   write 1 byte on the exec pipe  -->  [skiff-exec] unshare(NEWCGROUP), capabilities, ids,
//                                       chdir, execve(command)  => PID 1
//   read the error pipe: EOF means the command runs; a message means a step failed.
//
// The process that calls startContainer() is the container's monitor: it
// waits for PID 1 to exit and records the exit status (see finalize()).
import { existsSync, readFileSync, readSync, statSync, mkdirSync, writeSync } from 'node:fs';
import { dirname, posix } from 'node:path';
import { CLONE, cloneExec, execStub } from '../../native-bindings/helper.js';
import { constants } from 'node:os';
import { close, pipe, waitpidAsync, waitpidSync } from '../../native-bindings/libc.js';
import {
  applyLimits, containerCgroup, createCgroup, planDevices, destroyCgroup, detectHostLayout, joinCgroup, oomKilled, planLimits,
  type ContainerCgroup,
} from '../cgroups/index.js';
import { ImageStore } from '../image/store.js';
import { mountPlan } from '../sandbox/mounts.js';
import { secureJoin } from '../sandbox/securejoin.js';
import type { InitFailure, SandboxSpec } from '../sandbox/spec.js';
import { SkiffError, EXIT } from '../util/errors.js';
import { procStartTime } from '../util/proc.js';
import { mark } from '../util/trace.js';
import { stageScript } from '../util/install.js';
import type { ContainerRecord } from './model.js';
import { lowerDirs, mountRootfs, rootfsDirs, unmountRootfs, writeEtcFiles } from './rootfs.js';
import * as store from './store.js';
import { resolveUser } from './user.js';
import { idmapLayers, makeReachable, unmountIdmappedLayers, writeIdMaps } from './userns.js';
import { mergeEnv } from './create.js';
import { chownPty } from './pty.js';
import { ensureVolumeSources, securitySpec, userMounts } from './security.js';
import { attachNetwork, prepareNetwork, releaseNetwork } from '../network/index.js';

const initScript = stageScript('init');

export interface Stdio {
  /** Descriptors that become the container's 0, 1 and 2. */
  fds: [number, number, number];
  /** Set when fds are a pty slave: it becomes the controlling terminal and /dev/console. */
  ttyPath?: string;
  /** The devpts instance the pty came from (see pty.ts): it becomes the container's /dev/pts. */
  devpts?: string;
}

export interface Started {
  pid: number;
  /**
   * Waits for PID 1 and resolves with its exit code (128+N for signal N).
   * Not started until called: a detached monitor that hands the container
   * to skiff-shim must not have reaped it first.
   */
  wait(): Promise<number>;
}

function readPasswdFile(merged: string, path: string): string {
  try {
    return readFileSync(secureJoin(merged, path), 'utf8');
  } catch {
    return '';
  }
}

/** Everything init needs, decided here so that init makes no decisions. */
function buildSpec(rec: ContainerRecord, stdio: Stdio, etc: ReturnType<typeof writeEtcFiles>): SandboxSpec {
  const { merged } = rootfsDirs(rec.Id);
  const user = resolveUser(rec.Config.User, readPasswdFile(merged, '/etc/passwd'), readPasswdFile(merged, '/etc/group'));
  const cwd = rec.Config.WorkingDir || '/';
  // /proc and /sys are mounted later, over whatever the image has there: a
  // workdir inside them could point at a descriptor of this process.
  if (/^\/(proc|sys)(\/|$)/.test(posix.normalize(cwd))) throw new SkiffError(`invalid workdir ${cwd}: must not be inside /proc or /sys`);
  const wd = secureJoin(merged, cwd);
  if (existsSync(wd)) {
    if (!statSync(wd).isDirectory()) throw new SkiffError(`failed to create workdir ${cwd}: not a directory`);
  } else {
    mkdirSync(wd, { recursive: true, mode: 0o755 }); // Docker creates a missing workdir
  }
  if (stdio.ttyPath) chownPty(stdio.fds[1], user.uid, rec.Skiff.Userns);
  const hasHome = rec.Config.Env.some((e) => e.startsWith('HOME='));
  const mounts = userMounts(rec.HostConfig);
  ensureVolumeSources(mounts);
  return {
    security: securitySpec(rec.HostConfig),
    execStub,
    cgroupns: true,
    rootfs: merged,
    hostname: rec.Config.Hostname,
    mounts: mountPlan(etc, stdio.ttyPath, mounts, { devpts: stdio.devpts }),
    tty: stdio.devpts && stdio.ttyPath ? `/dev/pts/${posix.basename(stdio.ttyPath)}` : undefined,
    process: {
      args: [rec.Path, ...rec.Args],
      env: hasHome ? rec.Config.Env : mergeEnv(rec.Config.Env, [`HOME=${user.home}`]),
      cwd,
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
    },
  };
}

/** One blocking read ('' at EOF). */
function readSome(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = readSync(fd, buf);
  return buf.subarray(0, n).toString('utf8');
}

/** Reads a pipe to EOF (blocking: init either execs or fails within milliseconds). */
function readToEnd(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Turns what arrived on the error pipe into a SkiffError with Docker's exit code. */
function initFailure(text: string, exitCode: number, file: string): SkiffError {
  try {
    const f = JSON.parse(text) as InitFailure;
    return new SkiffError(f.message, f.code);
  } catch {
    // From the C helper or skiff-exec: "stage:errno".
    const [stage, num] = text.trim().split(':');
    const errno = Number(num);
    if (stage === 'exec') {
      if (errno === constants.errno.ENOENT) return new SkiffError(`exec: "${file}": no such file or directory`, EXIT.NOT_FOUND);
      if (errno === constants.errno.EACCES) return new SkiffError(`exec: "${file}": permission denied`, EXIT.CANNOT_INVOKE);
      return new SkiffError(`exec: "${file}": errno ${errno}`, EXIT.CANNOT_INVOKE);
    }
    return new SkiffError(`container init failed at ${stage}: errno ${errno}`, exitCode || EXIT.RUNTIME);
  }
}

export function cgroupOf(rec: ContainerRecord): ContainerCgroup {
  return containerCgroup(detectHostLayout(), rec.Id);
}

export async function startContainer(id: string, stdio: Stdio, images = new ImageStore()): Promise<Started> {
  let rec = store.read(id);
  if (rec.State.Running) throw new SkiffError(`container ${rec.Name.slice(1)} is already running`);
  const undo: Array<() => void> = [];
  const rollback = () => {
    for (const fn of undo.reverse()) {
      try {
        fn();
      } catch {
        // best effort: keep undoing the rest
      }
    }
  };
  try {
    // 1. Root filesystem.
    const lower = lowerDirs(images, images.get(rec.Image).config.rootfs.diff_ids);
    const map = rec.Skiff.Userns;
    undo.push(() => unmountRootfs(id));
    if (map) {
      makeReachable(id, map, [dirname(initScript), dirname(execStub), process.execPath]);
      const mapped = idmapLayers(id, map, lower);
      try {
        mountRootfs(rec, mapped);
      } finally {
        unmountIdmappedLayers(id, mapped.length);
      }
    } else {
      mountRootfs(rec, lower);
    }
    mark('rootfs-mounted');
    const net = await prepareNetwork(rec);
    undo.push(() => releaseNetwork(id));
    const etc = writeEtcFiles(rec, net.hostsLines);
    const spec = buildSpec(rec, stdio, etc);
    spec.process.env = mergeEnv(net.env, spec.process.env);

    // 2. cgroup, beneath the cgroup skiff itself runs in.
    const layout = detectHostLayout();
    const cg = createCgroup(layout, id);
    undo.push(() => destroyCgroup(cg));
    const h = rec.HostConfig;
    applyLimits(cg, planDevices(layout, !!rec.HostConfig.Privileged));
    applyLimits(cg, planLimits({
      memory: h.Memory, memorySwap: h.MemorySwap || undefined, nanoCpus: h.NanoCpus, cpuShares: h.CpuShares || undefined,
      pidsLimit: h.PidsLimit ?? undefined,
    }, layout));

    mark('cgroup-ready');
    // 3. clone into the new namespaces; the child waits on the sync pipe.
    // The cgroup namespace is unshared later, by skiff-exec, once the
    // process is inside the container's cgroup (a cgroup namespace is rooted
    // where its creator stands).
    const [syncR, syncW] = pipe();
    const [errR, errW] = pipe();
    const [execR, execW] = pipe();
    let flags = CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWIPC;
    if (net.newNetns) flags |= CLONE.NEWNET;
    if (map) flags |= CLONE.NEWUSER;
    let pid: number;
    try {
      pid = cloneExec({
        flags, syncFd: syncR, netnsFd: net.joinNetnsFd, fds: [...stdio.fds, errW, execR], tty: !!stdio.ttyPath,
        path: process.execPath, argv: ['skiff-init', initScript, JSON.stringify(spec)], env: [],
      });
    } finally {
      close(syncR);
      close(errW);
      close(execR);
    }
    undo.push(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      waitpidSync(pid);
    });

    // 4. While the child waits: uid/gid maps. Then init runs (in Node) and
    // hands over to skiff-exec, which says "R" and waits again: only then,
    // with Node's threads gone, does the process join the cgroup.
    mark('cloned');
    let failure = '';
    let settings: ContainerRecord['NetworkSettings'] | undefined;
    try {
      if (map) writeIdMaps(pid, map);
      writeSync(syncW, 'x');
      close(syncW);
      // While init boots: wire up the network namespace.
      settings = await attachNetwork(rec, pid, net);
      const first = readSome(errR);
      if (first.startsWith('R')) {
        mark('init-done');
        joinCgroup(cg, pid);
        writeSync(execW, 'x');
        failure = first.slice(1);
      } else {
        failure = first;
      }
      close(execW);
      failure += readToEnd(errR);
    } finally {
      close(errR);
    }
    mark('exec');
    if (failure) {
      undo.pop();
      const code = waitpidSync(pid);
      throw initFailure(failure, code, rec.Path);
    }

    rec = store.update(id, (r) => {
      r.State = {
        ...r.State, Status: 'running', Running: true, Paused: false, OOMKilled: false, Dead: false, Pid: pid,
        ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: '0001-01-01T00:00:00Z',
      };
      r.Skiff.PidStartTime = procStartTime(pid);
      r.Skiff.MonitorPid = process.pid;
      r.Skiff.MonitorStartTime = procStartTime(process.pid);
      r.Skiff.CgroupPaths = cg.hierarchies.map((x) => x.dir);
      if (settings) r.NetworkSettings = settings;
    });
    let waiting: Promise<number> | undefined;
    return { pid, wait: () => (waiting ??= waitpidAsync(pid)) };
  } catch (e) {
    rollback();
    throw e;
  }
}

/**
 * Records the exit, then releases what only a running container needs: the
 * cgroup (after reading its OOM counter) and the overlay mount. The upper dir
 * stays, so a restart finds its files.
 */
export function finalize(id: string, exitCode: number, error = ''): ContainerRecord | undefined {
  let rec: ContainerRecord;
  try {
    rec = store.read(id);
  } catch {
    return undefined; // removed meanwhile (rm -f)
  }
  const cg = cgroupOf(rec);
  const oom = oomKilled(cg);
  try {
    destroyCgroup(cg);
  } catch {
    // processes that outlive PID 1 are killed by the kernel with the pid namespace
  }
  unmountRootfs(id);
  releaseNetwork(id);
  try {
    return store.update(id, (r) => {
      r.State = {
        ...r.State, Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: exitCode, OOMKilled: oom,
        Error: error, FinishedAt: new Date().toISOString(),
      };
      r.Skiff.MonitorPid = 0;
    });
  } catch {
    return undefined;
  }
}

