// `skiff rmi` and `skiff image prune`: untag and delete images, then free
// blobs and layers no image or container needs. An image that a container
// uses (running or stopped) is refused, naming the container, as Docker does.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as containers from '../container/store.js';
import { withLock } from '../util/lock.js';
import { SkiffError } from '../util/errors.js';
import { normalizeReference } from './reference.js';
import { hexOf, type ImageStore } from './store.js';

export interface RemoveReport { untagged: string[]; deleted: string[] }

/** diff_ids of layers that existing containers are built on (they must survive any image removal). */
function layersInUse(): Set<string> {
  const used = new Set<string>();
  for (const c of containers.list()) {
    for (const dir of c.GraphDriver.Data.LowerDir.split(':')) {
      const hex = dir.split('/').pop() ?? '';
      if (/^[0-9a-f]{64}$/.test(hex)) used.add(`sha256:${hex}`);
    }
  }
  return used;
}

function usersOf(id: string) {
  return containers.list().filter((c) => c.Image === id);
}

export function removeImage(store: ImageStore, ref: string, force = false): RemoveReport {
  const image = store.lookup(ref);
  if (!image) throw new SkiffError(`No such image: ${ref}`, 1);
  const names = [...image.repoTags, ...image.repoDigests];
  let byName: string | undefined;
  try {
    byName = ref.includes('@') ? ref : normalizeReference(ref);
  } catch {
    byName = undefined;
  }
  const isName = byName !== undefined && names.includes(byName);
  // Removing one of several names only untags.
  if (isName && image.repoTags.length > 1 && !byName!.includes('@')) {
    store.untag([byName!]);
    return { untagged: [byName!], deleted: [] };
  }
  const users = usersOf(image.id);
  const running = users.find((c) => c.State.Running);
  if (running) {
    throw new SkiffError(`conflict: unable to delete ${hexOf(image.id).slice(0, 12)} (cannot be forced) - image is being used by running container ${running.Id.slice(0, 12)}`, 1);
  }
  if (users.length && !force) {
    const what = isName ? `remove repository reference "${ref}"` : `delete ${hexOf(image.id).slice(0, 12)}`;
    throw new SkiffError(`conflict: unable to ${what} (must force) - container ${users[0].Id.slice(0, 12)} (${users[0].Name.slice(1)}) is using its referenced image ${hexOf(image.id).slice(0, 12)}; remove the container first (skiff rm ${users[0].Name.slice(1)})`, 1);
  }
  store.deleteImage(image.id);
  const gc = store.collectGarbage(layersInUse());
  return { untagged: names, deleted: [image.id, ...gc.layers] };
}

/** Dangling images (no names), or with `all` every image no container uses. */
export function pruneImages(store: ImageStore, all = false): { deleted: string[]; untagged: string[]; bytes: number } {
  const deleted: string[] = [];
  const untagged: string[] = [];
  for (const img of store.list()) {
    const named = img.repoTags.length > 0;
    if ((named && !all) || usersOf(img.id).length) continue;
    untagged.push(...img.repoTags, ...img.repoDigests);
    store.deleteImage(img.id);
    deleted.push(img.id);
  }
  const gc = store.collectGarbage(layersInUse());
  return { deleted: [...deleted, ...gc.layers], untagged, bytes: gc.bytes };
}

/**
 * `builder prune`: forgets the build cache and deletes the images only it
 * kept (the untagged intermediate steps no container uses), then the layers
 * nothing needs any more.
 */
export function pruneBuildCache(store: ImageStore): { deleted: string[]; bytes: number } {
  const cached = withLock('build-cache', () => {
    const ids = store.buildCacheIds();
    rmSync(join(store.dir, 'build-cache.json'), { force: true });
    return ids;
  });
  const existing = new Set(store.ids());
  const deleted: string[] = [];
  for (const id of cached) {
    if (!existing.has(id) || usersOf(id).length) continue;
    const img = store.get(id);
    if (img.repoTags.length || img.repoDigests.length) continue;
    store.deleteImage(id);
    deleted.push(id);
  }
  const gc = store.collectGarbage(layersInUse());
  return { deleted, bytes: gc.bytes };
}
