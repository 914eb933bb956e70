// /images/...: list, inspect, pull (create), tag, remove and load, over the
// same image store and registry client as the CLI.
import { loadArchive } from '../image/load.js';
import { normalizeReference } from '../image/reference.js';
import { pruneImages, removeImage } from '../image/remove.js';
import { ImageStore, type Image } from '../image/store.js';
import { parseFilters } from '../cli/filters.js';
import { IMAGES_FILTERS, selectImages } from '../cli/image-list.js';
import { imageView } from '../cli/inspect-view.js';
import type { ProgressEvent } from '../registry/progress.js';
import { ApiError, boolParam, filterFlags, sendJson, type Ctx, type Router } from './router.js';

function find(store: ImageStore, ref: string): Image {
  const img = store.lookup(ref);
  if (!img) throw new ApiError(404, `No such image: ${ref}`);
  return img;
}

function list(c: Ctx): void {
  const store = new ImageStore();
  const filters = parseFilters(filterFlags(c.query), IMAGES_FILTERS);
  const chosen = selectImages(store, { all: boolParam(c.query, 'all'), filters, repository: c.query.get('filter') ?? undefined });
  sendJson(c.res, 200, chosen.map(({ img, created, names }) => {
    const size = store.size(img);
    // Only the names that passed a reference filter, as the daemon answers.
    const tags = names.filter((n) => n.repository !== '<none>').map((n) => `${n.repository}:${n.tag}`);
    return {
      Id: img.id, ParentId: '', RepoTags: tags, RepoDigests: img.repoDigests, Created: Math.floor(created.getTime() / 1000),
      Size: size, VirtualSize: size, SharedSize: -1, Labels: img.config.config?.Labels ?? {}, Containers: -1,
    };
  }));
}

/** POST /images/create?fromImage=…&tag=…: a pull, answered with Docker's JSON progress stream. */
async function pull(c: Ctx): Promise<void> {
  const from = c.query.get('fromImage');
  if (!from) throw new ApiError(501, 'skiff does not implement image import (fromSrc); use fromImage');
  const tag = c.query.get('tag');
  const ref = tag ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : from;
  const { pullImage } = await import('../registry/pull.js');
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  const send = (o: object) => c.res.write(`${JSON.stringify(o)}\r\n`);
  const onProgress = (ev: ProgressEvent) => {
    if (ev.kind === 'message') send({ status: ev.text });
    else send({ status: ev.status, id: ev.id, ...(ev.total ? { progressDetail: { current: ev.current ?? 0, total: ev.total } } : { progressDetail: {} }) });
  };
  try {
    await pullImage(new ImageStore(), ref, { platform: c.query.get('platform') || undefined, onProgress });
  } catch (e) {
    const message = (e as Error).message;
    send({ errorDetail: { message }, error: message });
  }
  c.res.end();
}

async function load(c: Ctx): Promise<void> {
  const loaded = await loadArchive(new ImageStore(), c.req);
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  for (const img of loaded) {
    const text = img.tags.length ? img.tags.map((t) => `Loaded image: ${t}\n`).join('') : `Loaded image ID: ${img.id}\n`;
    c.res.write(`${JSON.stringify({ stream: text })}\r\n`);
  }
  c.res.end();
}

export function imageRoutes(r: Router): void {
  r.on('GET', '/images/json', list)
    .on('POST', '/images/create', pull)
    .on('POST', '/images/load', load)
    .on('POST', '/images/prune', (c) => {
      // `image prune -a` sends dangling=false: every image no container uses.
      const all = filterFlags(c.query).includes('dangling=false');
      const r = pruneImages(new ImageStore(), all);
      const deleted = [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))];
      sendJson(c.res, 200, { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: r.bytes });
    })
    .on('GET', '/images/{name*}/json', (c) => {
      const store = new ImageStore();
      sendJson(c.res, 200, imageView(store, find(store, c.params.name)));
    })
    .on('POST', '/images/{name*}/tag', (c) => {
      const store = new ImageStore();
      const img = find(store, c.params.name);
      const repo = c.query.get('repo');
      if (!repo) throw new ApiError(400, 'repository name (repo) is required');
      store.tag(img.id, [normalizeReference(`${repo}:${c.query.get('tag') || 'latest'}`)]);
      c.res.writeHead(201);
      c.res.end();
    })
    .on('DELETE', '/images/{name*}', (c) => {
      const store = new ImageStore();
      find(store, c.params.name);
      const report = removeImage(store, c.params.name, boolParam(c.query, 'force'));
      sendJson(c.res, 200, [...report.untagged.map((u) => ({ Untagged: u })), ...report.deleted.map((d) => ({ Deleted: d }))]);
    });
}
