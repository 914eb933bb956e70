// Bytes used by the files under a directory, counted as Docker counts a
// container's writable layer: every non-directory once (hard links once).
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { refresh } from '../container/lifecycle.js';
import * as containers from '../container/store.js';
import { ImageStore, type Image } from '../image/store.js';
import { listVolumes, volumeData, volumeUsers } from '../volume/store.js';
import { commandLine, INIT_ENTRIES, stateOf, statusOf } from './container-list.js';

/** SKIP: paths relative to DIR that do not count. */
export function dirSize(dir: string, skip: ReadonlySet<string> = new Set()): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return; // gone, or not a directory
    }
    for (const name of names) {
      const p = join(d, name);
      if (skip.has(p.slice(dir.length + 1))) continue;
      let st;
      try {
        st = lstatSync(p, { bigint: false });
      } catch {
        continue;
      }
      if (st.isDirectory()) { walk(p); continue; }
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1 && seen.has(key)) continue;
      seen.add(key);
      total += st.size;
    }
  };
  walk(dir);
  return total;
}

/**
 * What `system df` reports, in the Engine API's shape: images (layers shared
 * between images counted once in LayersSize), containers (their writable
 * layers), volumes (their data, and how many containers name them), and the
 * build cache: the intermediate images only the classic builder's cache keeps.
 */
export function diskUsage(images = new ImageStore()) {
  const ctrs = containers.list().map(refresh);
  const all = images.list();
  const cacheOnly = images.buildCacheIds();
  const layerUsers = new Map<string, number>();
  for (const img of all) for (const d of new Set(img.config.rootfs.diff_ids)) layerUsers.set(d, (layerUsers.get(d) ?? 0) + 1);
  const layersSize = [...layerUsers.keys()].reduce((n, d) => n + images.layerSize(d), 0);
  const usedBy = (id: string) => ctrs.filter((c) => c.Image === id).length;
  const isCache = (img: Image) => cacheOnly.has(img.id) && !img.repoTags.length && !img.repoDigests.length && usedBy(img.id) === 0;
  const imageEntries = all.filter((img) => !isCache(img)).map((img) => {
    const size = images.size(img);
    const shared = [...new Set(img.config.rootfs.diff_ids)].filter((d) => (layerUsers.get(d) ?? 0) > 1).reduce((n, d) => n + images.layerSize(d), 0);
    return {
      Id: img.id, ParentId: '', RepoTags: img.repoTags, RepoDigests: img.repoDigests, Created: Math.floor(images.created(img).getTime() / 1000),
      Size: size, SharedSize: shared, VirtualSize: size, Labels: img.config.config?.Labels ?? {}, Containers: usedBy(img.id),
    };
  });
  const containerEntries = ctrs.map((c) => {
    const rw = dirSize(c.GraphDriver.Data.UpperDir, INIT_ENTRIES);
    let base = 0;
    try {
      base = images.size(images.get(c.Image));
    } catch {
      // the image is gone
    }
    return {
      Id: c.Id, Names: [c.Name], Image: c.Config.Image, ImageID: c.Image, Command: commandLine(c), Created: Math.floor(new Date(c.Created).getTime() / 1000),
      State: stateOf(c), Status: statusOf(c), SizeRw: rw, SizeRootFs: rw + base, Labels: c.Config.Labels ?? {}, Mounts: c.Mounts ?? [],
    };
  });
  const volumes = listVolumes().map((v) => ({ ...v, UsageData: { Size: dirSize(volumeData(v.Name)), RefCount: volumeUsers(v.Name).length } }));
  const buildCache = all.filter(isCache).map((img) => {
    const top = img.config.rootfs.diff_ids.at(-1);
    const history = img.config.history ?? [];
    const created = images.created(img).toISOString();
    return {
      ID: img.id.replace(/^sha256:/, '').slice(0, 25), Parent: '', Type: 'regular', Description: history.at(-1)?.created_by ?? '',
      InUse: false, Shared: top ? (layerUsers.get(top) ?? 0) > 1 : false, Size: top && !history.at(-1)?.empty_layer ? images.layerSize(top) : 0,
      CreatedAt: created, LastUsedAt: created, UsageCount: 1,
    };
  });
  return { LayersSize: layersSize, Images: imageEntries, Containers: containerEntries, Volumes: volumes, BuildCache: buildCache };
}
