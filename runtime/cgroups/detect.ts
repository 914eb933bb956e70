import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readText } from './io.js';

/** The leaf cgroup v2 processes move into so that their own cgroup can delegate controllers. */
export const LEAF_NAME = 'skiff-leaf';

export type CgroupMode = 'unified' | 'hybrid' | 'legacy';
export type Controller = 'memory' | 'cpu' | 'pids' | 'freezer' | 'devices';
export const CONTROLLERS: readonly Controller[] = ['memory', 'cpu', 'pids', 'freezer', 'devices'];

/** One mounted hierarchy as seen by this process. */
export interface Hierarchy {
  version: 1 | 2;
  /** Mount point, prefixed with fsRoot. */
  mountPoint: string;
  /** Directory of the process's own cgroup in this hierarchy, prefixed with fsRoot. */
  ownDir: string;
}

export interface CgroupLayout {
  mode: CgroupMode;
  /** Which hierarchy serves each controller skiff uses; absent = unavailable. */
  controllers: Partial<Record<Controller, Hierarchy>>;
  /**
   * The cgroup2 hierarchy, if mounted: the controllers our cgroup was given
   * (`available`), and those the hierarchy has at all (`delegatable`, its root's
   * cgroup.controllers), which tells "not delegated" from "not in this kernel".
   */
  v2?: Hierarchy & { available: string[]; delegatable: string[] };
}

/** One line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH" ("0::PATH" for cgroup2). */
export interface ProcCgroupEntry {
  id: number;
  controllers: string[];
  path: string;
}

/** A cgroup or cgroup2 line of /proc/PID/mountinfo. */
export interface CgroupMount {
  version: 1 | 2;
  /** Root of the mount inside its hierarchy (field 4). */
  root: string;
  mountPoint: string;
  /** Super options; for v1 they name the controllers (e.g. "rw,cpu,cpuacct"). */
  superOptions: string[];
}

export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    // The path may itself contain ':'.
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) throw new Error(`cgroup: bad /proc/self/cgroup line: '${line}'`);
    entries.push({
      id: Number(line.slice(0, first)),
      controllers: line.slice(first + 1, second).split(',').filter(Boolean),
      path: line.slice(second + 1),
    });
  }
  return entries;
}

const unescapeMount = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

export function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    // Optional fields (shared:N ...) sit between field 6 and the "-" separator.
    const sep = fields.indexOf('-', 6);
    if (sep < 0) continue;
    const fstype = fields[sep + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    mounts.push({
      version: fstype === 'cgroup2' ? 2 : 1,
      root: unescapeMount(fields[3]),
      mountPoint: unescapeMount(fields[4]),
      superOptions: (fields[sep + 3] ?? '').split(','),
    });
  }
  return mounts;
}

/**
 * Where cgroup PATH (as listed in /proc/self/cgroup) appears under MOUNT, or
 * undefined if the mount does not show it. A mount made with a non-/ root (bind of
 * a sub-cgroup, e.g. inside a container) shows PATH minus that root prefix.
 */
function dirInMount(mount: CgroupMount, cgPath: string, fsRoot: string): string | undefined {
  const root = mount.root.replace(/\/+$/, '');
  if (cgPath.startsWith('/..')) return undefined; // outside our cgroup namespace
  if (root !== '' && cgPath !== root && !cgPath.startsWith(root + '/')) return undefined;
  const dir = join(fsRoot, mount.mountPoint, cgPath.slice(root.length));
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

function hierarchyFor(
  mounts: CgroupMount[],
  cgPath: string | undefined,
  fsRoot: string,
  version: 1 | 2,
): Hierarchy | undefined {
  if (cgPath === undefined) return undefined;
  for (const mount of mounts) {
    const ownDir = dirInMount(mount, cgPath, fsRoot);
    if (ownDir !== undefined) return { version, mountPoint: join(fsRoot, mount.mountPoint), ownDir };
  }
  return undefined;
}

/**
 * Detects the cgroup layout from the text of /proc/self/cgroup and /proc/self/mountinfo.
 * fsRoot prefixes every cgroupfs path (tests point it at a fake tree).
 */
export function detectLayout(procSelfCgroup: string, mountinfo: string, fsRoot = ''): CgroupLayout {
  const entries = parseProcCgroup(procSelfCgroup);
  const mounts = parseMountinfo(mountinfo);

  const v2Entry = entries.find((e) => e.id === 0 && e.controllers.length === 0);
  const v2Mounts = mounts.filter((m) => m.version === 2);
  const v2Base = hierarchyFor(v2Mounts, v2Entry?.path, fsRoot, 2);
  // A process that skiff moved into <base>/skiff-leaf (v2's no-internal-
  // processes rule, see lifecycle.ts) still places containers under <base>.
  if (v2Base && basename(v2Base.ownDir) === LEAF_NAME) v2Base.ownDir = dirname(v2Base.ownDir);
  let v2Available: string[] = [];
  let v2Delegatable: string[] = [];
  if (v2Base) {
    v2Delegatable = (readText(join(v2Base.mountPoint, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean);
    // Our cgroup.controllers lists what the parent delegated to us; the mount's
    // root file is the fallback if our own dir cannot be read.
    const text =
      readText(join(v2Base.ownDir, 'cgroup.controllers')) ??
      readText(join(v2Base.mountPoint, 'cgroup.controllers')) ??
      '';
    v2Available = text.split(/\s+/).filter(Boolean);
  }

  const v1For = (name: string): Hierarchy | undefined => {
    const entry = entries.find((e) => e.id !== 0 && e.controllers.includes(name));
    const candidates = mounts.filter((m) => m.version === 1 && m.superOptions.includes(name));
    return hierarchyFor(candidates, entry?.path, fsRoot, 1);
  };

  const hasV1 = entries.some(
    (e) => e.id !== 0 && e.controllers.some((c) => !c.startsWith('name=') && v1For(c) !== undefined),
  );
  let mode: CgroupMode;
  if (v2Base && !hasV1) mode = 'unified';
  else if (v2Base) mode = 'hybrid';
  else if (hasV1) mode = 'legacy';
  else throw new Error('cgroup: no usable cgroup or cgroup2 mount for this process (see /proc/self/mountinfo)');

  const controllers: CgroupLayout['controllers'] = {};
  for (const name of ['memory', 'cpu', 'pids'] as const) {
    const h = v2Base && v2Available.includes(name) ? v2Base : v1For(name);
    if (h) controllers[name] = h;
  }
  // The v2 freezer is not a controller listed in cgroup.controllers but a core file
  // (cgroup.freeze, kernel >= 5.2) of every non-root cgroup.
  const freezer = v1For('freezer') ?? v2Base;
  if (freezer) controllers.freezer = freezer;
  // v2 device control is an eBPF program, not a file; only v1 has a devices controller.
  const devices = v1For('devices');
  if (devices) controllers.devices = devices;

  return { mode, controllers, ...(v2Base ? { v2: { ...v2Base, available: v2Available, delegatable: v2Delegatable } } : {}) };
}

/** Detects the layout of the running process from the real /proc/self files. */
export function detectHostLayout(): CgroupLayout {
  return detectLayout(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
}
