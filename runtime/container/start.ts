// Starting a container: the parent's side (the full picture is in the README).
//
//   parent (this file, Node)            child
//   ------------------------            -----
//   mkdir cgroup, write limits and the device program; warm the kernel's
//   cgroup lock; mount overlay rootfs; lease an address
//   skiff_clone(NEWPID|NEWNS|...)  -->  [C] waits on the sync pipe
//   write uid/gid maps; sync byte 1 --> [C] root in the userns; makes the proc
//   wire the veth                       mount (fsmount), says "P<fd>", waits
//   take the proc fd (pidfd_getfd); enter the child's namespaces on the main
//   thread (sandbox/enter.ts): mounts, sethostname, pivot_root, PATH lookup;
//   back home; sync byte 2         -->  [C] no_new_privs, seccomp,
//                                       execveat(skiff-exec)
//   error pipe says "R"            <--  [skiff-exec, C] waits on the exec pipe
//   join PID to the cgroup
//   write 1 byte on the exec pipe  -->  [skiff-exec] unshare(NEWCGROUP), capabilities, ids,
//                                       chdir, execve(command)  => PID 1
//   read the error pipe: EOF means the command runs; a message means a step failed.
//
// One Node process: the kernel steps inside the new namespaces are made by
// this process's main thread, which enters them and comes back.
//
// The process that calls startContainer() is the container's monitor: it
// waits for PID 1 to exit and records the exit status (see finalize()).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { CLONE, cloneExec, execStub } from '../../native-bindings/helper.js';
import { constants } from 'node:os';
import { close, pidfdGetfd, pipe, waitpidAsync, waitpidSync } from '../../native-bindings/libc.js';
import {
  applyLimits, attachDeviceProgram, cgroupView, containerCgroup, createCgroup, deviceAllowList, destroyCgroup, detectHostLayout,
  joinCgroup, planDevices, planLimits, warmMigrationLock, type ContainerCgroup,
} from '../cgroups/index.js';
import { ImageStore } from '../image/store.js';
import { mountPlan } from '../sandbox/mounts.js';
import { secureJoin } from '../sandbox/securejoin.js';
import { buildRoot } from '../sandbox/enter.js';
import type { SandboxSpec } from '../sandbox/spec.js';
import { errnoText, SkiffError, EXIT } from '../util/errors.js';
import { acquireAsync } from '../util/lock.js';
import { procStartTime } from '../util/proc.js';
import { readSome, readToEnd } from '../util/pipe.js';
import { mark } from '../util/trace.js';
import type { ContainerRecord } from './model.js';
import { lowerDirs, mountRootfs, rootfsDirs, rootfsLock, unmountRootfs, writeEtcFiles } from './rootfs.js';
import * as store from './store.js';
import { resolveUser } from './user.js';
import { prepareWorkdir } from './workdir.js';
import { claimStart, noteStartCgroup, releaseStart } from './recover.js';
import { reserveExitRecord } from './exit-record.js';
import { idmapLayers, unmountIdmappedLayers, writeIdMaps } from './userns.js';
import { mergeEnv } from './env.js';
import { chownPty } from './pty.js';
import { deviceRules, ensureVolumeSources, seccompSummary, securitySpec, userMounts } from './security.js';
import { attachNetwork, prepareNetwork, releaseNetwork } from '../network/index.js';
import { explain } from '../teach/explain.js';
import * as narrate from '../teach/narrate.js';

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

/** Everything the start needs, decided before the clone: the mount plan and the process. */
function buildSpec(rec: ContainerRecord, stdio: Stdio, etc: ReturnType<typeof writeEtcFiles>, cg: ContainerCgroup): SandboxSpec {
  const { merged } = rootfsDirs(rec.Id);
  const user = resolveUser(rec.Config.User, readPasswdFile(merged, '/etc/passwd'), readPasswdFile(merged, '/etc/group'));
  const cwd = prepareWorkdir(merged, rec.Config.WorkingDir || '/');
  if (stdio.ttyPath) chownPty(stdio.fds[1], user.uid, rec.Skiff.Userns);
  const hasHome = rec.Config.Env.some((e) => e.startsWith('HOME='));
  const mounts = userMounts(rec.HostConfig);
  ensureVolumeSources(mounts, merged, rec.Skiff.Userns?.hostId);
  return {
    security: securitySpec(rec.HostConfig),
    cgroupns: true,
    rootfs: merged,
    hostname: rec.Config.Hostname,
    mounts: mountPlan(etc, stdio.ttyPath, mounts, cgroupView(cg), { devpts: stdio.devpts }),
    tty: stdio.devpts && stdio.ttyPath ? `/dev/pts/${posix.basename(stdio.ttyPath)}` : undefined,
    process: {
      args: [rec.Path, ...rec.Args],
      env: hasHome ? rec.Config.Env : mergeEnv(rec.Config.Env, [`HOME=${user.home}`]),
      cwd,
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
    },
    ...(rec.Skiff.Userns ? { owner: { uid: rec.Skiff.Userns.hostId, gid: rec.Skiff.Userns.hostId } } : {}),
  };
}

/** Turns "stage:errno" from the C child or skiff-exec into a SkiffError with Docker's exit code. */
function initFailure(text: string, exitCode: number, file: string): SkiffError {
  const [stage, num] = text.trim().split(':');
  const errno = Number(num);
  if (stage === 'exec' || stage === 'lookup') {
    if (errno === constants.errno.ENOENT) return new SkiffError(`exec: "${file}": no such file or directory`, EXIT.NOT_FOUND);
    if (errno === constants.errno.EACCES) return new SkiffError(`exec: "${file}": permission denied`, EXIT.CANNOT_INVOKE);
    return new SkiffError(`exec: "${file}": ${errnoText(errno)}`, EXIT.CANNOT_INVOKE);
  }
  return new SkiffError(`container init failed at ${stage}: ${errnoText(errno)}`, exitCode || EXIT.RUNTIME);
}

/** skiff-exec's command line (see skiff-exec.c). */
function execStubArgs(spec: SandboxSpec): string[] {
  const p = spec.process;
  const groups = p.groups.length ? p.groups.join(',') : '-';
  return ['skiff-exec', String(p.uid), String(p.gid), groups, spec.cgroupns ? '1' : '0', spec.security.caps, p.cwd, p.args[0], ...p.args];
}

export interface LaunchRequest {
  spec: SandboxSpec;
  /** CLONE_NEW* flags of the container's first process. */
  flags: number;
  stdio: Stdio;
  cg: ContainerCgroup;
  /** The caller's undo list: launch() adds "kill and reap the child" once it exists. */
  undo: Array<() => void>;
  netnsFd?: number;
  /** Writes /proc/PID/uid_map and gid_map while the child waits (user namespaces). */
  idMaps?: (pid: number) => void;
  /** Runs while the child makes its procfs (skiff run wires the network here). */
  whileChildMounts?: (pid: number) => Promise<void>;
  /**
   * An fd that becomes skiff-exec's fd 5 (skiff-runc create: a fifo opened
   * O_RDWR). skiff-exec then does everything but the exec (cgroup namespace,
   * capabilities, ids, cwd), says "H" and waits there; launch() returns then.
   * Whoever later writes a byte into the fifo starts the command.
   */
  holdFd?: number;
  /** Runs once the child is in its cgroup, before the exec (or before returning with holdFd). */
  beforeExec?: (pid: number) => void;
  /** Narration points (skiff run's --explain): after the clone, the id maps, the network, before the root, in the cgroup. */
  steps?: {
    cloned?(pid: number): void;
    idMapped?(pid: number): void;
    networked?(pid: number): void;
    buildingRoot?(pid: number): void;
    joined?(pid: number): void;
  };
}

/**
 * The clone-and-build sequence of a start (steps 3 and 4 below), shared by
 * `skiff run` and `skiff-runc create`. Returns the pid and the failure text
 * ("" when the process got as far as asked).
 */
export async function launch(r: LaunchRequest): Promise<{ pid: number; failure: string; command: string }> {
  const { spec, stdio, cg, undo } = r;
  // 3. clone into the new namespaces; the child waits on the sync pipe.
  // The cgroup namespace is unshared later, by skiff-exec, once the
  // process is inside the container's cgroup (a cgroup namespace is rooted
  // where its creator stands).
  const [syncR, syncW] = pipe();
  const [errR, errW] = pipe();
  const [execR, execW] = pipe();
  const stub = openSync(execStub(), 'r');
  let pid: number;
  try {
    pid = cloneExec({
      flags: r.flags, syncFd: syncR, netnsFd: r.netnsFd, fds: [...stdio.fds, errW, execR, ...(r.holdFd === undefined ? [] : [r.holdFd])], tty: !!stdio.ttyPath, ttyPath: spec.tty, stubFd: stub,
      argv: execStubArgs(spec), env: spec.process.env,
      seccomp: spec.security.seccomp ? Buffer.from(spec.security.seccomp, 'base64') : null, noNewPrivs: spec.security.noNewPrivs,
    });
  } finally {
    close(syncR);
    close(errW);
    close(execR);
    closeSync(stub);
  }
  undo.push(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    waitpidSync(pid);
  });

  // 4. While the child waits: uid/gid maps. It then makes its procfs
  // and waits again while this process builds its root; then it execs
  // skiff-exec, which says "R" and waits once more: only then, with
  // nothing of Node left in it, does the process join the cgroup.
  mark('cloned');
  r.steps?.cloned?.(pid);
  let failure = '';
  let command = spec.process.args[0];
  const open = new Set([syncW, execW, errR]);
  const closeOnce = (fd: number) => {
    if (open.delete(fd)) close(fd);
  };
  try {
    r.idMaps?.(pid);
    r.steps?.idMapped?.(pid);
    writeSync(syncW, 'x');
    // While the child makes its procfs: wire up the network namespace.
    await r.whileChildMounts?.(pid);
    r.steps?.networked?.(pid);
    const hello = readSome(errR);
    if (hello.startsWith('P')) {
      r.steps?.buildingRoot?.(pid);
      command = buildRoot(pid, spec, pidfdGetfd(pid, Number(hello.slice(1))));
      mark('root-built');
      writeSync(syncW, 'y');
      closeOnce(syncW);
      const first = readSome(errR);
      if (first.startsWith('R')) {
        mark('stub-ready');
        joinCgroup(cg, pid);
        r.steps?.joined?.(pid);
        r.beforeExec?.(pid);
        writeSync(execW, 'x');
        failure = first.slice(1);
        // Held (skiff-runc create): skiff-exec finishes all but the exec, says "H",
        // and waits on holdFd until `start`; its error pipe stays open till then.
        if (r.holdFd !== undefined) {
          const held = failure || readSome(errR);
          return { pid, command, failure: held === '' ? 'hold:32' : held.startsWith('H') ? held.slice(1) : held };
        }
      } else {
        failure = first;
      }
    } else {
      failure = hello;
    }
    closeOnce(execW);
    failure += readToEnd(errR);
  } finally {
    for (const fd of [...open]) closeOnce(fd);
  }
  return { pid, failure, command };
}

export async function startContainer(id: string, stdio: Stdio, images = new ImageStore()): Promise<Started> {
  let rec = store.read(id);
  if (rec.State.Running) throw new SkiffError(`container ${rec.Name.slice(1)} is already running`);
  claimStart(id);
  const undo: Array<() => void> = [() => releaseStart(id)];
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
    reserveExitRecord(id);
    // 1. cgroup, beneath the cgroup skiff itself runs in. First, so that the
    // warm-up write at its end has the rest of the start to wait out its
    // grace period in: it holds the cgroup mutex meanwhile, which a mkdir
    // or program attach in a cgroupfs would wait for (see warmMigrationLock).
    const layout = detectHostLayout();
    noteStartCgroup(id, containerCgroup(layout, id).hierarchies.map((x) => x.dir));
    const cg = createCgroup(layout, id);
    undo.push(() => destroyCgroup(cg));
    const h = rec.HostConfig;
    // Device control before any process exists in the cgroup: the v2 eBPF
    // program (fails closed if v2 has nothing else) or else the v1 rules. On a
    // hybrid host the kernel asks the program first and stops at its "no", so
    // once it is attached the v1 lines (one write each, ~1 ms apiece) would
    // only repeat the same list: they are written where the program is not.
    const devices = deviceAllowList(!!h.Privileged, deviceRules(h));
    const bpf = attachDeviceProgram(cg, devices);
    const deviceWrites = bpf ? [] : planDevices(layout, devices);
    applyLimits(cg, deviceWrites);
    const limitWrites = planLimits({
      memory: h.Memory, memorySwap: h.MemorySwap || undefined, nanoCpus: h.NanoCpus, cpuShares: h.CpuShares || undefined,
      pidsLimit: h.PidsLimit ?? undefined,
    }, layout);
    applyLimits(cg, limitWrites);
    explain(() => narrate.cgroupStep(cg, [...deviceWrites, ...limitWrites], devices, bpf));

    mark('cgroup-ready');
    warmMigrationLock(layout);

    // 2. Root filesystem.
    const diffIds = images.get(rec.Image).config.rootfs.diff_ids;
    const lower = lowerDirs(images, diffIds);
    explain(() => narrate.layersStep(rec.Config.Image, diffIds.map((d) => ({ diffId: d, path: images.layerPath(d), size: images.layerSize(d) }))));
    const map = rec.Skiff.Userns;
    undo.push(() => unmountRootfs(id));
    let stacked = lower;
    // A `docker cp` into the stopped container may have the same upper dir
    // mounted: wait for it to finish (as Docker's container lock does), off
    // the event loop. Uncontended, this is one open and one flock.
    const rootfsLockFd = await acquireAsync(rootfsLock(id));
    try {
      if (map) {
        stacked = idmapLayers(id, map, lower);
        try {
          mountRootfs(rec, stacked);
        } finally {
          unmountIdmappedLayers(id, stacked.length);
        }
      } else {
        mountRootfs(rec, lower);
      }
    } finally {
      closeSync(rootfsLockFd);
    }
    explain(() => narrate.overlayStep(stacked, rootfsDirs(id), !!map));
    mark('rootfs-mounted');
    const net = await prepareNetwork(rec);
    undo.push(() => releaseNetwork(id));
    mark('network-ready');
    const etc = writeEtcFiles(rec, net.hostsLines);
    const spec = buildSpec(rec, stdio, etc, cg);
    spec.process.env = mergeEnv(net.env, spec.process.env);

    // 3.-4. clone, build the root, exec (see launch()).
    let settings: ContainerRecord['NetworkSettings'] | undefined;
    let flags = CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWIPC;
    if (net.newNetns) flags |= CLONE.NEWNET;
    if (map) flags |= CLONE.NEWUSER;
    const { pid, failure, command } = await launch({
      spec, flags, stdio, cg, undo, netnsFd: net.joinNetnsFd,
      ...(map ? { idMaps: (p: number) => writeIdMaps(p, map) } : {}),
      whileChildMounts: async (p) => {
        settings = await attachNetwork(rec, p, net);
        // A bridge's wiring can outlast the first warm-up's grace period and
        // the window after it: warm the lock again for the join to come.
        warmMigrationLock(layout);
      },
      steps: {
        cloned: (p) => explain(() => narrate.cloneStep(p, flags, net.joinNetnsFd >= 0)),
        idMapped: (p) => explain(() => narrate.idmapStep(p, map)),
        networked: (p) => explain(() => narrate.networkSteps(rec, p, net)),
        buildingRoot: (p) => explain(() => narrate.rootSteps(p, spec)),
        joined: (p) => explain(() => narrate.execSteps(p, spec, cg, seccompSummary(h))),
      },
    });
    mark('exec');
    if (!failure) explain(() => narrate.execveStep(pid, command, spec.process.args, spec.process.env.length, spec.cgroupns ? narrate.nsInode(pid, 'cgroup') : undefined));
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
    releaseStart(id);
    mark('running');
    let waiting: Promise<number> | undefined;
    return { pid, wait: () => (waiting ??= waitpidAsync(pid)) };
  } catch (e) {
    rollback();
    explain(() => narrate.rollbackStep(id, (e as Error).message));
    throw e;
  }
}
