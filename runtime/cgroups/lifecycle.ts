import { close, constants, mkdirSync, openSync, readFileSync, rmdirSync, write } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CONTROLLERS, LEAF_NAME, type CgroupLayout, type Controller } from './detect.js';
import { describe, errno, readText, writeValue } from './io.js';

/** Name of the shared directory, under the runtime's own cgroup, that holds container cgroups. */
export const PARENT_NAME = 'skiff';

/** The v2 controllers a container cgroup gets through cgroup.subtree_control. */
const V2_ENABLED: readonly Controller[] = ['memory', 'cpu', 'pids'];

/** A container's directory in one hierarchy. */
export interface CgroupDir {
  version: 1 | 2;
  /** Where the hierarchy is mounted on the host (/sys/fs/cgroup/memory, /sys/fs/cgroup/unified, ...). */
  mountPoint: string;
  /** <own cgroup>/skiff, shared by all containers. */
  parent: string;
  /** <own cgroup>/skiff/<id>. */
  dir: string;
}

export interface ContainerCgroup {
  id: string;
  layout: CgroupLayout;
  /** The container's directory for each available controller. */
  dirs: Partial<Record<Controller, string>>;
  /** Each distinct container directory once (one per hierarchy used). */
  hierarchies: CgroupDir[];
}

/** Computes a container's cgroup paths without touching the filesystem. */
export function containerCgroup(layout: CgroupLayout, id: string): ContainerCgroup {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new Error(`cgroup: invalid container id '${id}'`);
  const dirs: ContainerCgroup['dirs'] = {};
  const hierarchies: CgroupDir[] = [];
  for (const name of CONTROLLERS) {
    const h = layout.controllers[name];
    if (!h) continue;
    const parent = join(h.ownDir, PARENT_NAME);
    const dir = join(parent, id);
    dirs[name] = dir;
    if (!hierarchies.some((x) => x.dir === dir)) hierarchies.push({ version: h.version, mountPoint: h.mountPoint, parent, dir });
  }
  // On a hybrid host no controller may live in the cgroup2 tree, but the
  // container still gets a directory there: v2's device program attaches to
  // it, and cgroup.kill/cgroup.events work on it.
  if (layout.v2) {
    const parent = join(layout.v2.ownDir, PARENT_NAME);
    const dir = join(parent, id);
    if (!hierarchies.some((x) => x.dir === dir)) hierarchies.push({ version: 2, mountPoint: layout.v2.mountPoint, parent, dir });
  }
  return { id, layout, dirs, hierarchies };
}

/**
 * A container's cgroup from the directories its start recorded
 * (Skiff.CgroupPaths). containerCgroup() puts a container under the caller's
 * own cgroup, which is right only for the process that starts it: a `pause`,
 * `exec` or `rm` from another login session or service runs in another
 * cgroup. Each recorded directory is matched to the hierarchy mounted above
 * it, which is the same for every process of the mount namespace.
 */
export function recordedCgroup(layout: CgroupLayout, id: string, recorded: readonly string[]): ContainerCgroup {
  const dirs: ContainerCgroup['dirs'] = {};
  const hierarchies: CgroupDir[] = [];
  const place = (version: 1 | 2, mountPoint: string): string | undefined => {
    const dir = recorded.find((d) => d.startsWith(`${mountPoint}/`));
    if (dir && !hierarchies.some((x) => x.dir === dir)) hierarchies.push({ version, mountPoint, parent: dirname(dir), dir });
    return dir;
  };
  for (const name of CONTROLLERS) {
    const h = layout.controllers[name];
    const dir = h && place(h.version, h.mountPoint);
    if (dir) dirs[name] = dir;
  }
  if (layout.v2) place(2, layout.v2.mountPoint);
  return { id, layout, dirs, hierarchies };
}

/**
 * Creates <own cgroup>/skiff/<id> in every hierarchy used. An existing directory is
 * reused. On failure, directories created so far are removed again.
 */
export function createCgroup(layout: CgroupLayout, id: string): ContainerCgroup {
  const cg = containerCgroup(layout, id);
  const created: CgroupDir[] = [];
  try {
    for (const h of cg.hierarchies) {
      if (makeDir(cg, h)) created.push(h);
    }
  } catch (err) {
    for (const h of created) {
      for (const dir of [h.dir, h.parent]) {
        try {
          rmdirSync(dir);
        } catch {
          // best effort (the parent may hold other containers); the original error matters more
        }
      }
    }
    throw err;
  }
  return cg;
}

function makeDir(cg: ContainerCgroup, h: CgroupDir): boolean {
  // A concurrent destroy may remove the shared parent between our two mkdirs: retry.
  for (let attempt = 1; ; attempt++) {
    mkdir(h.parent);
    try {
      if (h.version === 2) enableV2Controllers(cg, h);
    } catch (err) {
      // skiff/ vanished before its subtree_control was written (its last container just left).
      if (errno(err) === 'ENOENT' && attempt < 5) continue;
      throw err;
    }
    try {
      mkdirSync(h.dir);
      return true;
    } catch (err) {
      if (errno(err) === 'EEXIST') return false;
      if (errno(err) === 'ENOENT' && attempt < 5) continue;
      throw new Error(`cgroup: cannot create ${h.dir}: ${describe(err)}`, { cause: err });
    }
  }
}

function mkdir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw new Error(`cgroup: cannot create ${dir}: ${describe(err)}`, { cause: err });
  }
}

/**
 * On v2 a child only gets a controller that its parent lists in cgroup.subtree_control,
 * so our own cgroup and skiff/ must both enable them. The no-internal-process rule:
 * a non-root cgroup that has processes cannot enable controllers for its children
 * (EBUSY). Containers therefore live under skiff/, which never holds a process, and
 * the processes of our own cgroup (skiff itself among them) move down into a leaf,
 * <own>/skiff-leaf, before our cgroup enables anything. Later skiff processes are born
 * in that leaf and still place containers under <own> (see detect.ts).
 */
function enableV2Controllers(cg: ContainerCgroup, h: CgroupDir): void {
  const wanted = V2_ENABLED.filter((c) => cg.layout.controllers[c]?.version === 2);
  if (wanted.length === 0) return;
  const own = dirname(h.parent);
  for (const dir of [own, h.parent]) {
    const file = join(dir, 'cgroup.subtree_control');
    const enabled = (readText(file) ?? '').split(/\s+/).map((c) => c.replace(/^\+/, ''));
    const missing = wanted.filter((c) => !enabled.includes(c));
    if (missing.length === 0) continue;
    const value = missing.map((c) => `+${c}`).join(' ');
    try {
      writeValue(file, value);
    } catch (err) {
      if (dir !== own || errno(err) !== 'EBUSY') throw err;
      moveProcessesToLeaf(own);
      try {
        writeValue(file, value);
      } catch (again) {
        throw new Error(
          `${describe(again)} (cgroup v2 refuses to enable controllers in a cgroup that has processes; ` +
            `skiff moved those of ${own} into ${join(own, LEAF_NAME)}, but the cgroup is still busy)`,
          { cause: again },
        );
      }
    }
  }
}

/** Moves every process of DIR into DIR/skiff-leaf (created if needed). */
function moveProcessesToLeaf(dir: string): void {
  const leaf = join(dir, LEAF_NAME);
  mkdir(leaf);
  ownV2Procs = undefined; // this process may be one of them
  // Processes can fork while we move them; a few rounds catch the stragglers.
  for (let round = 0; round < 5; round++) {
    const pids = (readText(join(dir, 'cgroup.procs')) ?? '').split(/\s+/).filter((p) => /^\d+$/.test(p));
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        writeValue(join(leaf, 'cgroup.procs'), pid);
      } catch (err) {
        if (errno(err) !== 'ESRCH') throw err; // exited meanwhile
      }
    }
  }
}

/**
 * What the container's /sys/fs/cgroup shows (see sandbox/mounts.ts): on pure v2
 * its cgroup2 directory; otherwise its directory in each hierarchy, named after
 * the host's mount point, plus the host's aliases ("cpu" for "cpu,cpuacct").
 */
export function cgroupView(cg: ContainerCgroup): {
  unified?: string; hierarchies?: Array<{ name: string; dir: string }>; links?: Array<{ name: string; to: string }>;
} {
  if (cg.layout.mode === 'unified') {
    const v2 = cg.hierarchies.find((h) => h.version === 2);
    return v2 ? { unified: v2.dir } : {};
  }
  const hierarchies = cg.hierarchies.map((h) => ({ name: basename(h.mountPoint), dir: h.dir }));
  const names = new Set(hierarchies.map((h) => h.name));
  const links: Array<{ name: string; to: string }> = [];
  for (const { name } of hierarchies) {
    if (!name.includes(',')) continue;
    for (const part of name.split(',')) {
      if (!names.has(part)) {
        names.add(part);
        links.push({ name: part, to: name });
      }
    }
  }
  return { hierarchies, links };
}

/**
 * Warms up the kernel's cgroup-migration lock, off the main thread, so that
 * the joinCgroup() that follows soon after is quick.
 *
 * Every write to a cgroup.procs file takes one global lock
 * (cgroup_threadgroup_rwsem). The first writer after a quiet spell waits a
 * whole RCU grace period (9-16 ms on these machines) while the lock switches
 * to its writer mode; writers within about one more grace period skip that
 * wait (0.1 ms). This write moves this process into the cgroup it is already
 * in, which changes nothing, on a libuv thread: the grace period passes while
 * the main thread clones the child and builds its root. Errors are ignored:
 * it is only a warm-up, and the real join reports its own.
 *
 * Call it before this thread joins another pid namespace (skiff-runc's joined
 * namespaces): libuv starts its thread pool on first use, and once
 * pid_for_children differs from the process's own, clone(CLONE_THREAD)
 * fails with EINVAL, which aborts Node.
 */
export function warmMigrationLock(layout: CgroupLayout): void {
  const file = currentProcsFile(layout);
  if (!file) return;
  // Opened here, written there: one thread-pool job, which needs nothing
  // more from the event loop (the main thread is busy until the join).
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY);
  } catch {
    return;
  }
  write(fd, String(process.pid), () => close(fd, () => {}));
}

/** This process's cgroup.procs in v2, once known; moveProcessesToLeaf() forgets it. */
let ownV2Procs: string | undefined;

/** cgroup.procs of the cgroup this process is in now, in one hierarchy. */
function currentProcsFile(layout: CgroupLayout): string | undefined {
  // skiff never moves itself in a v1 hierarchy, so ownDir is where it is.
  const v1 = CONTROLLERS.map((c) => layout.controllers[c]).find((h) => h?.version === 1);
  if (v1) return join(v1.ownDir, 'cgroup.procs');
  if (!layout.v2) return undefined;
  // In v2 it may have moved itself into the leaf (see enableV2Controllers).
  // Read once: reading /proc/self/cgroup takes the cgroup mutex, which a
  // warm-up in flight holds for its whole grace period.
  if (ownV2Procs === undefined) {
    const self = readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m)?.[1] ?? '';
    ownV2Procs = join(layout.v2.ownDir, basename(self) === LEAF_NAME ? LEAF_NAME : '', 'cgroup.procs');
  }
  return ownV2Procs;
}

/** Moves PID into the container's cgroup in every hierarchy used. */
export function joinCgroup(cg: ContainerCgroup, pid: number): void {
  for (const h of cg.hierarchies) writeValue(join(h.dir, 'cgroup.procs'), String(pid));
}

/** The pids in the container's cgroups (union over hierarchies; empty if removed). */
export function listPids(cg: ContainerCgroup): number[] {
  const pids = new Set<number>();
  for (const h of cg.hierarchies) {
    for (const word of (readText(join(h.dir, 'cgroup.procs')) ?? '').split(/\s+/)) {
      if (/^\d+$/.test(word)) pids.add(Number(word));
    }
  }
  return [...pids].sort((a, b) => a - b);
}
