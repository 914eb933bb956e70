// skiff-runc's state: one directory per container under --root
// (/run/skiff-runc by default), holding state.json and, until `start`,
// exec.fifo — the named pipe the container's first process waits on.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freezerState, type ContainerCgroup } from '../cgroups/index.js';
import { procStartTime } from '../util/proc.js';
import type { Hooks } from './config.js';

export const OCI_VERSION = '1.2.0';
export const DEFAULT_ROOT = '/run/skiff-runc';

/** runc's error for a missing container (clients match on "does not exist"). */
export class RuncError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
export const notExist = () => new RuncError('container does not exist');

export interface Saved {
  id: string;
  pid: number;
  pidStartTime: number;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  hooks: Hooks;
  /** The id the container's cgroup is named by (runc-<id>). */
  cgroupId: string;
  /**
   * Its directories, as made by create: beneath the cgroup create ran in
   * (a shim's or conmon's), which later verbs, run from elsewhere, cannot recompute.
   */
  cgroup: ContainerCgroup;
  /** With linux.cgroupsPath: the directories create made (removed at delete); absent for skiff's own place. */
  cgroupMade?: string[];
  /** Capability mask, seccomp and no_new_privs for `exec`. */
  caps: string;
  seccomp: string | null;
  noNewPrivs: boolean;
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  userns: boolean;
}

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export function validId(id: string | undefined): string {
  if (!id) throw new RuncError('container id cannot be empty');
  if (!/^[A-Za-z0-9][\w+.-]*$/.test(id) || id.length > 1024) throw new RuncError(`invalid container id format: ${id}`);
  return id;
}

export const dirOf = (root: string, id: string) => join(root, id);
export const fifoOf = (root: string, id: string) => join(root, id, 'exec.fifo');

export function save(root: string, s: Saved): void {
  const file = join(dirOf(root, s.id), 'state.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(s));
  renameSync(`${file}.tmp`, file);
}

export function load(root: string, id: string): Saved {
  validId(id);
  try {
    return JSON.parse(readFileSync(join(dirOf(root, id), 'state.json'), 'utf8')) as Saved;
  } catch {
    throw notExist();
  }
}

export function ensureRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 });
}

export function cgroupOf(s: Pick<Saved, 'cgroup'>): ContainerCgroup {
  return s.cgroup;
}

function alive(s: Saved): boolean {
  if (!s.pid || procStartTime(s.pid) !== s.pidStartTime) return false;
  try {
    const stat = readFileSync(`/proc/${s.pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

export function statusOf(root: string, s: Saved): Status {
  if (!alive(s)) return 'stopped';
  if (existsSync(fifoOf(root, s.id))) return 'created';
  try {
    const f = freezerState(cgroupOf(s));
    if (f === 'frozen' || f === 'freezing') return 'paused';
  } catch {
    // no freezer: never paused
  }
  return 'running';
}

/** The runtime-spec state (what `state` prints and hooks read on stdin). */
export function specState(root: string, s: Saved, status: Status = statusOf(root, s)) {
  return {
    ociVersion: OCI_VERSION, id: s.id, status, pid: status === 'stopped' ? 0 : s.pid, bundle: s.bundle,
    rootfs: s.rootfs, created: s.created, owner: '', annotations: s.annotations,
  };
}
