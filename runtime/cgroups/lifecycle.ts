import fs from 'node:fs';
import path from 'node:path';
import { CONTROLLERS, type CgroupLayout, type Controller } from './detect.js';
import { describe, errno, readText, writeValue } from './io.js';

/** Name of the shared directory, under the runtime's own cgroup, that holds container cgroups. */
export const PARENT_NAME = 'skiff';

/** The v2 controllers a container cgroup gets through cgroup.subtree_control. */
const V2_ENABLED: readonly Controller[] = ['memory', 'cpu', 'pids'];

/** A container's directory in one hierarchy. */
export interface CgroupDir {
  version: 1 | 2;
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
    const parent = path.join(h.ownDir, PARENT_NAME);
    const dir = path.join(parent, id);
    dirs[name] = dir;
    if (!hierarchies.some((x) => x.dir === dir)) hierarchies.push({ version: h.version, parent, dir });
  }
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
          fs.rmdirSync(dir);
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
    if (h.version === 2) enableV2Controllers(cg, h);
    try {
      fs.mkdirSync(h.dir);
      return true;
    } catch (err) {
      if (errno(err) === 'EEXIST') return false;
      if (errno(err) === 'ENOENT' && attempt < 3) continue;
      throw new Error(`cgroup: cannot create ${h.dir}: ${describe(err)}`, { cause: err });
    }
  }
}

function mkdir(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw new Error(`cgroup: cannot create ${dir}: ${describe(err)}`, { cause: err });
  }
}

/**
 * On v2 a child only gets a controller that its parent lists in cgroup.subtree_control,
 * so our own cgroup and skiff/ must both enable them. The no-internal-process rule:
 * a non-root cgroup that has processes cannot enable controllers for its children
 * (EBUSY). Hence containers live under skiff/, which never holds a process; our own
 * cgroup must be the root or already delegate them.
 */
function enableV2Controllers(cg: ContainerCgroup, h: CgroupDir): void {
  const wanted = V2_ENABLED.filter((c) => cg.layout.controllers[c]?.version === 2);
  if (wanted.length === 0) return;
  const own = path.dirname(h.parent);
  for (const dir of [own, h.parent]) {
    const file = path.join(dir, 'cgroup.subtree_control');
    const enabled = (readText(file) ?? '').split(/\s+/).map((c) => c.replace(/^\+/, ''));
    const missing = wanted.filter((c) => !enabled.includes(c));
    if (missing.length === 0) continue;
    try {
      writeValue(file, missing.map((c) => `+${c}`).join(' '));
    } catch (err) {
      if (dir !== own || errno(err) !== 'EBUSY') throw err;
      throw new Error(
        `${describe(err)} (cgroup v2 refuses to enable controllers in a cgroup that has processes; ` +
          `run skiff from the root cgroup or from one whose cgroup.subtree_control already enables ${missing.join(', ')})`,
        { cause: err },
      );
    }
  }
}

/** Moves PID into the container's cgroup in every hierarchy used. */
export function joinCgroup(cg: ContainerCgroup, pid: number): void {
  for (const h of cg.hierarchies) writeValue(path.join(h.dir, 'cgroup.procs'), String(pid));
}

/** The pids in the container's cgroups (union over hierarchies; empty if removed). */
export function listPids(cg: ContainerCgroup): number[] {
  const pids = new Set<number>();
  for (const h of cg.hierarchies) {
    for (const word of (readText(path.join(h.dir, 'cgroup.procs')) ?? '').split(/\s+/)) {
      if (/^\d+$/.test(word)) pids.add(Number(word));
    }
  }
  return [...pids].sort((a, b) => a - b);
}
