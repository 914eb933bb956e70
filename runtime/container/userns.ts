// --userns-remap: container root is an unprivileged host uid (default
// 100000, 65536 ids). Image layers are not chowned; instead each layer is
// given an idmapped mount (kernel >= 5.12) that shifts its owners into the
// container's range, and overlayfs is stacked on those.
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { usernsHolder } from '../../native-bindings/helper.js';
import {
  close, MNT_DETACH, moveMount, mountSetattrIdmap, openTree, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE, pipe, umount2, waitpidSync,
} from '../../native-bindings/libc.js';
import { config } from '../config.js';
import { SkiffError } from '../util/errors.js';
import { paths } from '../util/paths.js';
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
    pid = usernsHolder(syncR);
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
    // Release the holder: it exits.
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
