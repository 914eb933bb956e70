// linux.cgroupsPath, as runc reads it with cgroupfs: an absolute path is
// taken from each hierarchy's mount point (/docker/ID, /kubepods/.../ID), a
// relative one from the cgroup skiff-runc runs in. Without one, the container
// gets skiff's own place, <own cgroup>/skiff/runc-ID. The directories made
// here are recorded, so `delete` removes exactly those (and the container's).
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { CONTROLLERS, containerCgroup, killAll, type CgroupLayout, type ContainerCgroup, type CgroupDir } from '../cgroups/index.js';
import { sleepSync } from '../cgroups/io.js';
import { ConfigError } from './config.js';

export function ociCgroup(layout: CgroupLayout, cgroupsPath: string | undefined, id: string): ContainerCgroup {
  if (!cgroupsPath) return containerCgroup(layout, `runc-${id}`);
  if (!cgroupsPath.startsWith('/') && cgroupsPath.includes(':')) {
    throw new ConfigError('linux.cgroupsPath', `"${cgroupsPath}" is a systemd slice:prefix:name path; skiff-runc manages cgroupfs paths only`);
  }
  const norm = posix.normalize(cgroupsPath);
  const rel = norm.replace(/^\/+/, '');
  if (!rel || rel === '.' || rel.split('/').includes('..')) throw new ConfigError('linux.cgroupsPath', `"${cgroupsPath}" must name a cgroup below the root, without ".."`);
  const abs = norm.startsWith('/');
  const dirs: ContainerCgroup['dirs'] = {};
  const hierarchies: CgroupDir[] = [];
  const add = (version: 1 | 2, mountPoint: string, ownDir: string): string => {
    const dir = join(abs ? mountPoint : ownDir, rel);
    if (!hierarchies.some((x) => x.dir === dir)) hierarchies.push({ version, mountPoint, parent: dirname(dir), dir });
    return dir;
  };
  for (const name of CONTROLLERS) {
    const h = layout.controllers[name];
    if (h) dirs[name] = add(h.version, h.mountPoint, h.ownDir);
  }
  if (layout.v2) add(2, layout.v2.mountPoint, layout.v2.ownDir);
  return { id: `runc-${id}`, layout, dirs, hierarchies };
}

/** Enables the v2 controllers skiff uses in DIR's cgroup.subtree_control (best effort: an ancestor may refuse). */
function enableV2(cg: ContainerCgroup, dir: string): void {
  const wanted = (['memory', 'cpu', 'pids'] as const).filter((c) => cg.layout.controllers[c]?.version === 2);
  for (const c of wanted) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
    } catch {
      // not available here, or the cgroup has processes (v2's no-internal-process rule)
    }
  }
}

/** mkdir -p of the container's directory in every hierarchy; returns the directories it made, outermost first. */
export function makeCgroup(cg: ContainerCgroup): string[] {
  const made: string[] = [];
  try {
    for (const h of cg.hierarchies) {
      let cur = h.mountPoint;
      for (const part of relative(h.mountPoint, h.dir).split('/')) {
        if (h.version === 2 && Object.values(cg.layout.controllers).some((x) => x?.version === 2)) enableV2(cg, cur);
        cur = join(cur, part);
        try {
          mkdirSync(cur);
          made.push(cur);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cgroup: cannot create ${cur}: ${(e as Error).message}`);
        }
      }
    }
  } catch (e) {
    removeMade(made);
    throw e;
  }
  return made;
}

/** Removes directories makeCgroup made, innermost first, where they are empty. */
export function removeMade(made: string[]): void {
  for (const dir of [...made].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // gone, or holds another container's cgroup
    }
  }
}

/**
 * Kills what is left in a cgroupsPath container and removes its directories,
 * but not their parents (a pod's cgroup belongs to the kubelet); then the
 * directories create made itself.
 */
export function destroyAt(cg: ContainerCgroup, made: string[]): void {
  killAll(cg);
  for (const h of cg.hierarchies) {
    for (let i = 0; ; i++) {
      try {
        rmdirSync(h.dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || i > 200) throw new Error(`cgroup: cannot remove ${h.dir}: ${(e as Error).message}`);
        sleepSync(5);
      }
    }
  }
  removeMade(made);
}
