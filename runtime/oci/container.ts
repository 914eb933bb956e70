// skiff-runc's verbs, as a library: create/start/run/kill/delete/pause/resume/ps.
//
// create goes through the same engine as `skiff run` (container/start.ts
// launch()): cgroup, clone, mount plan, pivot_root, skiff-exec. The only
// difference is where the process stops: skiff-exec's go-ahead descriptor is
// a named pipe, ROOT/ID/exec.fifo, opened read-write, so the process waits
// there — inside its namespaces and cgroup, its root built — until `start`
// writes one byte into the fifo and removes it. "created" is therefore "the
// fifo still exists and the process is alive".
import { spawnSync } from 'node:child_process';
import { constants as osConstants, hostname as osHostname } from 'node:os';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync, constants as fsc } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CLONE } from '../../native-bindings/helper.js';
import { mknod, prlimit, S_IFIFO, setns, waitpidAsync, waitpidSync } from '../../native-bindings/libc.js';
import {
  applyLimits, attachDeviceProgram, cgroupView, containerCgroup, createCgroup, destroyCgroup, detectHostLayout, freezeCgroup, killAll,
  listPids, planDevices, planLimits, thawCgroup, validateLimits, warmMigrationLock, type ContainerCgroup,
} from '../cgroups/index.js';
import { launch, type Stdio } from '../container/start.js';
import { destroyAt, makeCgroup, ociCgroup } from './cgroup.js';
import { insideNamespacesOf } from '../sandbox/enter.js';
import { procStartTime } from '../util/proc.js';
import { errnoText } from '../util/errors.js';
import { ConfigError, readConfig, rlimitNumber, translate, type Hook, type OciPlan } from './config.js';
import { sendConsole, hostPty } from './console.js';
import {
  cgroupOf, dirOf, ensureRoot, fifoOf, load, RuncError, save, specState, statusOf, validId, type Saved,
} from './state.js';

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
}

function writePidFile(file: string, pid: number): void {
  const abs = resolve(file);
  const tmp = join(dirname(abs), `.${Date.now()}.pid.tmp`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, abs);
}

/**
 * Runs hooks in order, the state JSON on stdin. The first failure throws,
 * except with WARN (poststart, poststop): the spec wants a warning and the
 * remaining hooks and the operation carried on.
 */
export function runHooks(kind: string, hooks: Hook[], state: object, warn = false): void {
  for (const h of hooks) {
    const r = spawnSync(h.path, h.args?.slice(1) ?? [], {
      argv0: h.args?.[0] ?? h.path, input: JSON.stringify(state), env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      timeout: h.timeout ? h.timeout * 1000 : undefined, stdio: ['pipe', 'inherit', 'pipe'],
    });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}${r.stderr?.length ? `, stderr: ${r.stderr.toString().trim()}` : ''}`;
      const msg = `${kind} hook #${hooks.indexOf(h)}: ${h.path}: ${why}`;
      if (!warn) throw new RuncError(msg);
      process.stderr.write(`time="${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}" level=warning msg=${JSON.stringify(msg)}\n`);
    }
  }
}

function idMapLines(m: OciPlan['uidMappings']): string {
  return m.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join('');
}

/** The container's first process, stopped before its exec: rlimits, OOM score. */
function settle(plan: OciPlan, pid: number): void {
  for (const r of plan.rlimits) {
    const big = (n: number) => (n >= Number.MAX_SAFE_INTEGER ? 0xffffffffffffffffn : BigInt(n));
    try {
      prlimit(pid, rlimitNumber(r.type), big(r.soft), big(r.hard), r.type);
    } catch (e) {
      throw new RuncError(`error setting rlimit type ${r.type.replace('RLIMIT_', '').toLowerCase()}: ${(e as Error).message}`);
    }
  }
  if (plan.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(plan.oomScoreAdj));
}

/**
 * linux.sysctl, written from the container's net/ipc/uts/mount namespaces
 * before its root is built (afterwards its /proc/sys is read-only).
 */
function writeSysctls(plan: OciPlan, pid: number): void {
  const entries = Object.entries(plan.sysctl);
  if (entries.length) {
    insideNamespacesOf(pid, () => {
      for (const [k, v] of entries) writeFileSync(`/proc/sys/${k.replace(/\./g, '/')}`, v);
    });
  }
}

const JOIN_TYPE = { ipc: 0x08000000, uts: 0x04000000, pid: 0x20000000 } as const;
const OWN_NS = { ipc: 'ipc', uts: 'uts', pid: 'pid_for_children' } as const;

/** Enters PLAN's ipc/uts/pid namespaces on this thread; returns the way back. */
function enterJoins(plan: OciPlan): () => void {
  const own: Array<[number, number]> = [];
  const back = () => {
    for (const [fd, type] of own.reverse()) {
      setns(fd, type, 'own namespace');
      closeSync(fd);
    }
    own.length = 0;
  };
  try {
    for (const j of plan.joins) {
      const mine = openSync(`/proc/thread-self/ns/${OWN_NS[j.type]}`, 'r');
      const theirs = openSync(j.path, 'r');
      try {
        setns(theirs, JOIN_TYPE[j.type], j.path);
        own.push([mine, JOIN_TYPE[j.type]]);
      } catch (e) {
        closeSync(mine);
        throw new RuncError(`joining the ${j.type} namespace ${j.path}: ${(e as Error).message}`);
      } finally {
        closeSync(theirs);
      }
    }
  } catch (e) {
    back();
    throw e;
  }
  return back;
}

/** `create`: everything up to the user's exec; returns the container's pid. */
export async function create(o: CreateOptions, stdio: Stdio['fds'] = [0, 1, 2]): Promise<number> {
  const { root, id } = o;
  validId(id);
  const bundle = resolve(o.bundle);
  const config = readConfig(bundle);
  ensureRoot(root);
  const dir = dirOf(root, id);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RuncError(`container with id exists: ${id}`);
    throw e;
  }
  const undo: Array<() => void> = [() => rmSync(dir, { recursive: true, force: true })];
  const rollback = () => {
    for (const fn of undo.reverse()) {
      try {
        fn();
      } catch {
        // keep undoing
      }
    }
  };
  try {
    const layout = detectHostLayout();
    const cgroupId = `runc-${id}`;
    const cgPath = (config.linux as { cgroupsPath?: unknown } | undefined)?.cgroupsPath;
    if (cgPath !== undefined && typeof cgPath !== 'string') throw new ConfigError('linux.cgroupsPath', 'must be a string');
    const planned = ociCgroup(layout, cgPath || undefined, id);
    const view = cgroupView(planned);
    const terminal = (config.process as { terminal?: unknown } | undefined)?.terminal === true;
    if (terminal && !o.consoleSocket) throw new RuncError('cannot allocate tty if runc will detach without setting console socket');
    if (!terminal && o.consoleSocket) throw new RuncError('cannot use console socket if runc will not detach or allocate tty');
    const pty = terminal ? hostPty() : undefined;
    if (pty) undo.push(() => {
      closeSync(pty.master);
      closeSync(pty.slave);
    });
    const plan = translate(config, { bundle, cgroups: view, ...(pty ? { consolePath: pty.slavePath } : {}) });
    if (pty) plan.spec.tty = '/dev/console';
    try {
      validateLimits(plan.limits);
    } catch (e) {
      throw new ConfigError('linux.resources', `is invalid: ${(e as Error).message}`);
    }

    let cg: ContainerCgroup;
    let made: string[] | undefined;
    if (cgPath) {
      cg = planned;
      const m = makeCgroup(cg);
      made = m;
      undo.push(() => destroyAt(cg, m));
    } else {
      cg = createCgroup(layout, cgroupId);
      undo.push(() => destroyCgroup(cg));
    }
    applyLimits(cg, planDevices(layout, plan.devices));
    attachDeviceProgram(cg, plan.devices);
    applyLimits(cg, planLimits(plan.limits, layout));
    const memV = layout.controllers.memory?.version;
    applyLimits(cg, plan.memoryExtra.flatMap((x) => {
      const file = memV === 1 ? x.file1 : memV === 2 ? x.file2 : undefined;
      return file ? [{ controller: 'memory' as const, file, value: x.value, ifExists: true as const }] : [];
    }));
    // The join in launch() would otherwise wait ~10 ms for the kernel's cgroup
    // lock. Before enterJoins(): see warmMigrationLock on pid namespaces.
    warmMigrationLock(layout);
    // Saved now, with no pid: a create killed from here on leaves a state
    // that `delete` reads to find and remove the cgroup.
    const saved: Saved = {
      id, pid: 0, pidStartTime: 0, bundle, rootfs: plan.spec.rootfs, created: new Date().toISOString(),
      annotations: plan.annotations, hooks: plan.hooks, cgroupId, cgroup: cg, ...(made ? { cgroupMade: made } : {}), caps: plan.execCaps, seccomp: plan.spec.security.seccomp,
      noNewPrivs: plan.spec.security.noNewPrivs, env: plan.spec.process.env, cwd: plan.spec.process.cwd, uid: plan.spec.process.uid,
      gid: plan.spec.process.gid, userns: (plan.flags & CLONE.NEWUSER) !== 0,
    };
    save(root, saved);

    const fifo = fifoOf(root, id);
    mknod(fifo, S_IFIFO | 0o600);
    // Read-write: the open does not block, and the reader never sees EOF while it waits.
    const hold = openSync(fifo, fsc.O_RDWR);
    const netnsFd = plan.netnsPath ? openSync(plan.netnsPath, 'r') : undefined;
    const fds: Stdio['fds'] = pty ? [pty.slave, pty.slave, pty.slave] : stdio;
    let pid: number, failure: string;
    // Namespaces joined by path: this thread enters them before the clone,
    // so the child is born in them (pid: its children's pid namespace), and
    // returns to its own afterwards.
    const back = enterJoins(plan);
    if (!plan.newUts) plan.spec.hostname = osHostname();
    try {
      ({ pid, failure } = await launch({
        spec: plan.spec, flags: plan.flags, stdio: { fds, ...(pty ? { ttyPath: pty.slavePath } : {}) }, cg, undo, netnsFd, holdFd: hold,
        ...(plan.flags & CLONE.NEWUSER ? {
          idMaps: (p: number) => {
            writeFileSync(`/proc/${p}/uid_map`, idMapLines(plan.uidMappings));
            writeFileSync(`/proc/${p}/gid_map`, idMapLines(plan.gidMappings));
          },
        } : {}),
        whileChildMounts: async (p) => writeSysctls(plan, p),
        beforeExec: (p) => settle(plan, p),
      }));
    } finally {
      back();
      closeSync(hold);
      if (netnsFd !== undefined) closeSync(netnsFd);
    }
    if (failure) {
      undo.pop();
      try {
        waitpidSync(pid);
      } catch {
        // reaped
      }
      const [stage, num] = failure.trim().split(':');
      const why = errnoText(Number(num));
      throw new RuncError(stage === 'chdir'
        ? `chdir to cwd ("${plan.spec.process.cwd}") set in config.json failed: ${why}`
        : `container init failed at ${stage}: ${why}`);
    }
    saved.pid = pid;
    saved.pidStartTime = procStartTime(pid);
    save(root, saved);
    const state = specState(root, saved, 'created');
    runHooks('createRuntime', plan.hooks.createRuntime, state);
    runHooks('prestart', plan.hooks.prestart, state);
    if (pty && o.consoleSocket) {
      sendConsole(o.consoleSocket, pty.master);
      closeSync(pty.master);
      closeSync(pty.slave);
    }
    if (o.pidFile) writePidFile(o.pidFile, pid);
    return pid;
  } catch (e) {
    rollback();
    throw e;
  }
}

export function start(root: string, id: string): void {
  const s = load(root, id);
  const status = statusOf(root, s);
  if (status === 'stopped') throw new RuncError('cannot start a container that has stopped');
  if (status !== 'created') throw new RuncError('cannot start an already running container');
  const fifo = fifoOf(root, id);
  const fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
  try {
    writeSync(fd, '0');
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
  runHooks('poststart', s.hooks.poststart, specState(root, s, 'running'), true);
}

const SIGNALS = osConstants.signals as Record<string, number>;

export function parseSignal(sig: string | undefined): number {
  if (sig === undefined || sig === '') return SIGNALS.SIGTERM;
  if (/^\d+$/.test(sig)) return Number(sig);
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  const n = SIGNALS[name];
  if (n === undefined) throw new RuncError(`unknown signal "${sig}"`);
  return n;
}

export function kill(root: string, id: string, signal: string | undefined, all: boolean): void {
  const s = load(root, id);
  const sig = parseSignal(signal);
  const status = statusOf(root, s);
  if (status === 'stopped' && !all) throw new RuncError('container not running');
  if (all) {
    for (const p of listPids(cgroupOf(s))) {
      try {
        process.kill(p, sig);
      } catch {
        // gone
      }
    }
    return;
  }
  process.kill(s.pid, sig);
}

/** `delete`: a stopped (or created) container; with force, also a running one. */
export function remove(root: string, id: string, force: boolean): void {
  let s: Saved;
  try {
    s = load(root, id);
  } catch (e) {
    // Half-made by a create that was killed: clean what is there.
    if (existsSync(dirOf(root, validId(id)))) {
      rmSync(dirOf(root, id), { recursive: true, force: true });
      try {
        destroyCgroup(containerCgroup(detectHostLayout(), `runc-${id}`));
      } catch {
        // none
      }
      return;
    }
    throw e;
  }
  const status = statusOf(root, s);
  if ((status === 'running' || status === 'paused') && !force) {
    throw new RuncError(`cannot delete container ${id} that is not stopped: ${status}`);
  }
  const cg = cgroupOf(s);
  if (status === 'paused') thawCgroup(cg);
  if (status !== 'stopped') {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (s.cgroupMade) {
    destroyAt(cg, s.cgroupMade);
  } else {
    killAll(cg);
    destroyCgroup(cg);
  }
  rmSync(dirOf(root, id), { recursive: true, force: true });
  runHooks('poststop', s.hooks.poststop, specState(root, s, 'stopped'), true);
}

export function pause(root: string, id: string): void {
  const s = load(root, id);
  const status = statusOf(root, s);
  if (status !== 'running' && status !== 'created') throw new RuncError('container not running');
  freezeCgroup(cgroupOf(s));
}

export function resume(root: string, id: string): void {
  const s = load(root, id);
  if (statusOf(root, s) !== 'paused') throw new RuncError('container not paused');
  thawCgroup(cgroupOf(s));
}

export function ps(root: string, id: string): number[] {
  const s = load(root, id);
  return listPids(cgroupOf(s));
}

/** `run`: create, start, and (unless detached) wait, delete and return the exit code. */
export async function run(o: CreateOptions & { detach: boolean }): Promise<number> {
  const pid = await create(o);
  start(o.root, o.id);
  if (o.detach) return 0;
  // Still this process's child: wait for it, forwarding the usual signals.
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, forward);
  const code = await waitpidAsync(pid);
  remove(o.root, o.id, true);
  return code;
}
