// --userns-remap: container root is an unprivileged host uid (default
// 100000, 65536 ids). Image layers are not chowned; instead each layer is
// given an idmapped mount (kernel >= 5.12) that shifts its owners into the
// container's range, and overlayfs is stacked on those.
import { chmodSync, closeSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLONE, cloneExec } from '../../native-bindings/helper.js';
import {
  close, MNT_DETACH, moveMount, mountSetattrIdmap, openTree, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE, pipe, umount2, waitpidSync,
} from '../../native-bindings/libc.js';
import { config } from '../config.js';
import { SkiffError } from '../util/errors.js';
import { paths, skiffRoot } from '../util/paths.js';
import type { UsernsMap } from './model.js';

export function parseRemap(value: string | boolean | undefined): UsernsMap {
  if (typeof value !== 'string' || value === 'default') return { hostId: 100000, size: 65536 };
  const m = value.match(/^(\d+):(\d+)$/);
  if (!m) throw new SkiffError(`invalid userns-remap "${value}": expected HOSTID:SIZE, e.g. 100000:65536`);
  return { hostId: Number(m[1]), size: Number(m[2]) };
}

export function usernsFor(): UsernsMap {
  return parseRemap(config()['userns-remap']);
}

export function usernsByDefault(): boolean {
  const v = config()['userns-remap'];
  return v !== undefined && v !== false;
}

export function writeIdMaps(pid: number, map: UsernsMap): void {
  const line = `0 ${map.hostId} ${map.size}\n`;
  writeFileSync(`/proc/${pid}/uid_map`, line);
  writeFileSync(`/proc/${pid}/gid_map`, line);
}

/**
 * Gives each layer an idmapped mount under <container>/lower/N and returns
 * those paths (topmost first, like the input). The user namespace fd comes
 * from a short-lived child that unshared one and waits on a pipe.
 */
export function idmapLayers(id: string, map: UsernsMap, lower: string[]): string[] {
  const [syncR, syncW] = pipe();
  let pid = 0;
  try {
    pid = cloneExec({ flags: CLONE.NEWUSER, syncFd: syncR, fds: [], tty: false, path: '/nonexistent', argv: ['userns-holder'], env: [] });
    close(syncR);
    writeIdMaps(pid, map);
    const nsFd = openSync(`/proc/${pid}/ns/user`, 'r');
    try {
      return lower.map((layer, i) => {
        const target = join(paths.container(id), 'lower', String(i));
        mkdirSync(target, { recursive: true });
        const fd = openTree(layer, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        try {
          mountSetattrIdmap(fd, nsFd, layer);
          moveMount(fd, target);
        } finally {
          closeSync(fd);
        }
        return target;
      });
    } finally {
      closeSync(nsFd);
    }
  } finally {
    // Release the holder: it fails to exec "/nonexistent" and exits.
    if (pid > 0) writeSync(syncW, 'x');
    close(syncW);
    if (pid > 0) waitpidSync(pid);
  }
}

/** overlayfs keeps its own private clones of the lower mounts, so these can go right after it is mounted. */
export function unmountIdmappedLayers(id: string, count: number): void {
  for (let i = 0; i < count; i++) {
    try {
      umount2(join(paths.container(id), 'lower', String(i)), MNT_DETACH);
    } catch {
      // not mounted
    }
  }
}

/** The first directory on the way to `path` (itself included) that host uid `uid` may not search, if any. */
export function unsearchableBy(uid: number, path: string): string | undefined {
  const dirs: string[] = [];
  for (let d = path; ; d = dirname(d)) {
    dirs.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of dirs) {
    const st = statSync(d);
    const bit = st.uid === uid ? 0o100 : st.gid === uid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return d;
  }
  return undefined;
}

/**
 * Container root is an unprivileged host uid, and init resolves the merged
 * dir and the per-container /etc files as that uid. So skiff's own dirs on
 * the way become traversable, 0711 as Docker makes its root for remapped
 * containers; a parent directory that is not skiff's gets a clear error.
 */
export function makeReachable(id: string, map: UsernsMap, alsoNeeded: string[] = []): void {
  const root = skiffRoot();
  for (const dir of [root, paths.containers(root), paths.container(id, root)]) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o011) !== 0o011) chmodSync(dir, mode | 0o011);
  }
  for (const p of [paths.container(id, root), ...alsoNeeded]) {
    const blocked = unsearchableBy(map.hostId, p);
    if (blocked) {
      const mode = (statSync(blocked).mode & 0o7777).toString(8).padStart(4, '0');
      throw new SkiffError(`--userns-remap: container root (host uid ${map.hostId}) cannot reach ${p}: ${blocked} is mode ${mode}; ` +
        `run 'chmod o+x ${blocked}' or use a SKIFF_ROOT (and skiff install) under directories others may search`);
    }
  }
}
