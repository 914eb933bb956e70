// Named volumes, Docker's "local" driver: $SKIFF_ROOT/volumes/NAME/_data is
// the content, NAME/volume.json its record. A container holds a volume by
// naming it in HostConfig.Binds, so "in use" is read from the containers.
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as containers from '../container/store.js';
import { SkiffError } from '../util/errors.js';
import { readJson, writeJsonAtomic } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { paths } from '../util/paths.js';
import { randomHex } from '../util/random.js';

export interface Volume {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const LOCK = 'volumes';

/** Docker's rule for volume names; the message is Docker's too. */
export function checkVolumeName(name: string): void {
  if (!NAME.test(name)) {
    throw new SkiffError(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

export const volumeDir = (name: string): string => join(paths.volumes(), name);
export const volumeData = (name: string): string => join(volumeDir(name), '_data');
const recordFile = (name: string): string => join(volumeDir(name), 'volume.json');

function read(name: string): Volume | undefined {
  try {
    return readJson<Volume>(recordFile(name));
  } catch {
    return undefined;
  }
}

export interface VolumeOptions { labels?: Record<string, string>; options?: Record<string, string> }
type Create = (name?: string, opts?: VolumeOptions) => Volume;

/** Docker 23+'s mark of an anonymous volume (`-v /path`): `rm -v` and `run --rm` remove those. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

const createHeld: Create = (name = randomHex(32), opts = {}) => {
  checkVolumeName(name);
  const existing = read(name);
  if (existing) return existing;
  mkdirSync(volumeData(name), { recursive: true, mode: 0o755 });
  const v: Volume = {
    Name: name, Driver: 'local', Mountpoint: volumeData(name), CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    Labels: opts.labels ?? {}, Options: opts.options ?? {}, Scope: 'local',
  };
  writeJsonAtomic(recordFile(name), v);
  return v;
};

/** Creates NAME (a random 64-hex name when absent); an existing volume is returned as it is, like Docker. */
export const createVolume: Create = (name, opts) => withLock(LOCK, () => createHeld(name, opts));

/**
 * Runs fn holding the volumes lock, with a `create` that works under it. A
 * container's volumes and its record are made inside one such call, so a
 * concurrent prune (which reads the users under the same lock) never sees a
 * fresh volume without its container. flock is per open file, not reentrant:
 * fn must not call createVolume itself.
 */
export function withVolumes<T>(fn: (create: Create) => T): T {
  return withLock(LOCK, () => fn(createHeld));
}

/** Removes the anonymous volumes among a removed container's binds (rm -v, --rm). */
export function removeAnonymousVolumes(binds: string[] | null | undefined): void {
  for (const name of (binds ?? []).map(bindVolumeName)) {
    if (!name || read(name)?.Labels[ANONYMOUS_LABEL] === undefined) continue;
    try {
      removeVolume(name, true);
    } catch (e) {
      if (!(e instanceof VolumeInUse)) throw e; // another container mounts it too (--volumes-from style)
    }
  }
}

export function listVolumes(): Volume[] {
  let names: string[];
  try {
    names = readdirSync(paths.volumes());
  } catch {
    return [];
  }
  return names.sort().map(read).filter((v): v is Volume => !!v);
}

export function inspectVolume(name: string): Volume {
  const v = NAME.test(name) ? read(name) : undefined;
  if (!v) throw new SkiffError(`get ${name}: no such volume`, 1);
  return v;
}

/** The volume a -v/Binds source names, or undefined for a host path. */
export function bindVolumeName(bind: string): string | undefined {
  const source = bind.split(':')[0];
  return source.startsWith('/') || source.startsWith('.') ? undefined : source;
}

/** Ids of containers (any state) whose binds name the volume. */
export function volumeUsers(name: string): string[] {
  return containers.list().filter((c) => (c.HostConfig.Binds ?? []).some((b) => bindVolumeName(b) === name)).map((c) => c.Id);
}

export class VolumeInUse extends SkiffError {}

/** Docker refuses while any container uses the volume, even with force. */
export function removeVolume(name: string, force = false): void {
  withLock(LOCK, () => {
    if (!(NAME.test(name) && read(name))) {
      if (force) return;
      throw new SkiffError(`get ${name}: no such volume`, 1);
    }
    const users = volumeUsers(name);
    if (users.length) throw new VolumeInUse(`remove ${name}: volume is in use - [${users.join(', ')}]`, 1);
    rmSync(volumeDir(name), { recursive: true, force: true });
  });
}

function diskUsage(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e);
    const st = lstatSync(p);
    total += st.isDirectory() ? diskUsage(p) : st.size;
  }
  return total;
}

/** Removes every volume no container uses (those matching `keep` are skipped). */
export function pruneVolumes(match: (v: Volume) => boolean = () => true): { deleted: string[]; reclaimed: number } {
  const deleted: string[] = [];
  let reclaimed = 0;
  withLock(LOCK, () => {
    // Read under the lock: a create holds it from its volumes to its record (withVolumes).
    const inUse = new Set(containers.list().flatMap((c) => (c.HostConfig.Binds ?? []).map(bindVolumeName)));
    for (const v of listVolumes()) {
      if (inUse.has(v.Name) || !match(v)) continue;
      reclaimed += diskUsage(volumeData(v.Name));
      rmSync(volumeDir(v.Name), { recursive: true, force: true });
      deleted.push(v.Name);
    }
  });
  return { deleted, reclaimed };
}

/** Names of volumes no container uses (`dangling=true`). */
export function danglingVolumes(): Set<string> {
  const inUse = new Set(containers.list().flatMap((c) => (c.HostConfig.Binds ?? []).map(bindVolumeName)));
  return new Set(listVolumes().map((v) => v.Name).filter((n) => !inUse.has(n)));
}

/** Docker copies the image's content at the mount path into an empty volume on first mount. */
export function isEmptyVolume(name: string): boolean {
  try {
    return readdirSync(volumeData(name)).length === 0;
  } catch {
    return !existsSync(volumeData(name));
  }
}
