// /volumes: Docker's named volumes, the same library as `skiff volume`.
import { parseFilters } from '../cli/filters.js';
import { selectVolumes, VOLUME_FILTERS } from '../cli/volume-list.js';
import { createVolume, inspectVolume, pruneVolumes, removeVolume, VolumeInUse } from '../volume/store.js';
import { ApiError, boolParam, filterFlags, noContent, readJson, sendJson, type Ctx, type Router } from './router.js';

function known(name: string) {
  try {
    return inspectVolume(name);
  } catch (e) {
    throw new ApiError(404, (e as Error).message);
  }
}

async function create(c: Ctx): Promise<void> {
  const b = await readJson<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> }>(c.req, c.hijack);
  if (b.Driver && b.Driver !== 'local') throw new ApiError(404, `error looking up volume plugin ${b.Driver}: plugin "${b.Driver}" not found`);
  try {
    sendJson(c.res, 201, createVolume(b.Name || undefined, { labels: b.Labels ?? {}, options: b.DriverOpts ?? {} }));
  } catch (e) {
    throw new ApiError(400, (e as Error).message);
  }
}

function remove(c: Ctx): void {
  known(c.params.name);
  try {
    removeVolume(c.params.name, boolParam(c.query, 'force'));
  } catch (e) {
    throw new ApiError(e instanceof VolumeInUse ? 409 : 500, (e as Error).message);
  }
  noContent(c.res);
}

function prune(c: Ctx): void {
  const wanted = new Set(selectVolumes(parseFilters(filterFlags(c.query), ['label'])).map((v) => v.Name));
  const r = pruneVolumes((v) => wanted.has(v.Name));
  sendJson(c.res, 200, { VolumesDeleted: r.deleted, SpaceReclaimed: r.reclaimed });
}

export function volumeRoutes(r: Router): void {
  r.on('GET', '/volumes', (c) => sendJson(c.res, 200, { Volumes: selectVolumes(parseFilters(filterFlags(c.query), VOLUME_FILTERS)), Warnings: [] }))
    .on('POST', '/volumes/create', create)
    .on('POST', '/volumes/prune', prune)
    .on('GET', '/volumes/{name}', (c) => sendJson(c.res, 200, known(c.params.name)))
    .on('DELETE', '/volumes/{name}', remove);
}
