// /images/...: list, inspect, pull (create), push, tag, remove, load, save
// (get), history and search, over the same image store and registry client
// as the CLI.
import type { Credentials } from '../registry/client.js';
import { checkCredentials, getCredentials } from '../registry/auth.js';
import { RegistryClient, searchRegistry } from '../registry/client.js';
import { defaultRegistry, parseServer, splitTerm } from '../registry/reference.js';
import { saveTargets, writeDockerArchive } from '../image/save.js';
import { imageHistory } from '../cli/image-list.js';
import { imageEvent } from './events.js';
import { loadArchive } from '../image/load.js';
import { normalizeReference } from '../image/reference.js';
import { pruneImages, removeImage } from '../image/remove.js';
import { ImageStore, type Image } from '../image/store.js';
import { parseFilters } from '../cli/filters.js';
import { IMAGES_FILTERS, selectImages } from '../cli/image-list.js';
import { imageView } from '../cli/inspect-view.js';
import type { ProgressEvent } from '../registry/progress.js';
import { ApiError, boolParam, filterFlags, readJson, sendJson, type Ctx, type Router } from './router.js';

function find(store: ImageStore, ref: string): Image {
  const img = store.lookup(ref);
  if (!img) throw new ApiError(404, `No such image: ${ref}`);
  return img;
}

function list(c: Ctx): void {
  const store = new ImageStore();
  const filters = parseFilters(filterFlags(c.query), IMAGES_FILTERS);
  const chosen = selectImages(store, { all: boolParam(c.query, 'all'), filters, repository: c.query.get('filter') ?? undefined });
  const narrowed = filters.has('reference') || !!c.query.get('filter');
  sendJson(c.res, 200, chosen.map(({ img, created, names }) => {
    const size = store.size(img);
    // Only the names that passed a reference filter, as the daemon answers.
    const tags = names.filter((n) => n.repository !== '<none>').map((n) => `${n.repository}:${n.tag}`);
    // Digests too: with a name filter, only those of the repositories shown (else the CLI adds a "REPO <none>" row for each).
    const repos = new Set(names.map((n) => n.repository));
    const digests = narrowed ? img.repoDigests.filter((d) => repos.has(d.slice(0, d.indexOf('@')))) : img.repoDigests;
    return {
      Id: img.id, ParentId: '', RepoTags: tags, RepoDigests: digests, Created: Math.floor(created.getTime() / 1000),
      Size: size, VirtualSize: size, SharedSize: -1, Labels: img.config.config?.Labels ?? {}, Containers: -1,
    };
  }));
}

/** Docker's JSON progress stream (pull, push): one object a line; a failure is its last object. */
function progressStream(c: Ctx) {
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  const send = (o: object) => c.res.write(`${JSON.stringify(o)}\r\n`);
  const onProgress = (ev: ProgressEvent) => {
    if (ev.kind === 'message') send({ status: ev.text });
    else send({ status: ev.status, id: ev.id, ...(ev.total ? { progressDetail: { current: ev.current ?? 0, total: ev.total } } : { progressDetail: {} }) });
  };
  const fail = (e: Error) => send({ errorDetail: { message: e.message }, error: e.message });
  return { send, onProgress, fail };
}

/**
 * X-Registry-Auth: base64url JSON of {username, password, serveraddress};
 * without it (or with "{}", what the CLI sends when it has nothing) the
 * credentials `skiff login` stored are used.
 */
export function registryAuth(c: Ctx): Credentials | undefined {
  const raw = c.req.headers['x-registry-auth'];
  if (typeof raw !== 'string' || !raw) return undefined;
  try {
    const a = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { username?: string; password?: string; auth?: string };
    if (a.username) return { username: a.username, password: a.password ?? '' };
    if (a.auth) {
      const [username, ...rest] = Buffer.from(a.auth, 'base64').toString('utf8').split(':');
      return { username, password: rest.join(':') };
    }
    return undefined;
  } catch {
    throw new ApiError(400, 'invalid X-Registry-Auth header: not base64url-encoded JSON');
  }
}

/** POST /images/create?fromImage=…&tag=…: a pull, answered with Docker's JSON progress stream. */
async function pull(c: Ctx): Promise<void> {
  const from = c.query.get('fromImage');
  if (!from) throw new ApiError(501, 'skiff does not implement image import (fromSrc); use fromImage');
  const tag = c.query.get('tag');
  const ref = tag ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : from;
  const credentials = registryAuth(c);
  const { pullImage } = await import('../registry/pull.js');
  const p = progressStream(c);
  try {
    await pullImage(new ImageStore(), ref, { platform: c.query.get('platform') || undefined, onProgress: p.onProgress, client: credentials && { credentials } });
    imageEvent('pull', normalizeReference(ref));
  } catch (e) {
    p.fail(e as Error);
  }
  c.res.end();
}

/** POST /images/{name}/push?tag=…: the tag, or with none every local tag of the repository. */
async function push(c: Ctx): Promise<void> {
  const store = new ImageStore();
  const name = c.params.name;
  const tag = c.query.get('tag');
  let refs: string[];
  if (tag) refs = [`${name}:${tag}`];
  else {
    const repo = normalizeReference(name).replace(/:latest$/, '');
    refs = Object.keys(store.repositories()).filter((k) => !k.includes('@') && k.slice(0, k.lastIndexOf(':')) === repo).sort();
    if (!refs.length) throw new ApiError(404, `An image does not exist locally with the tag: ${name}`);
  }
  if (!store.lookup(refs[0])) throw new ApiError(404, `An image does not exist locally with the tag: ${refs[0]}`);
  const credentials = registryAuth(c);
  const { pushImage } = await import('../registry/push.js');
  const p = progressStream(c);
  try {
    for (const ref of refs) {
      const r = await pushImage(store, ref, { onProgress: p.onProgress, client: credentials && { credentials } });
      p.send({ progressDetail: {}, aux: { Tag: r.tag, Digest: r.digest, Size: r.size } });
      imageEvent('push', normalizeReference(ref));
    }
  } catch (e) {
    p.fail(e as Error);
  }
  c.res.end();
}

/** GET /images/{name}/get and /images/get?names=…: `docker save`, a docker-archive tar. */
async function save(c: Ctx, refs: string[]): Promise<void> {
  if (!refs.length) throw new ApiError(400, 'no image names given');
  const store = new ImageStore();
  for (const r of refs) find(store, r);
  const targets = saveTargets(store, refs);
  c.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  try {
    await writeDockerArchive(store, targets, c.res);
  } catch {
    c.res.destroy(); // a cut tar tells the client it failed; there is no error channel once the tar began
    return;
  }
  for (const t of targets) imageEvent('save', t.id);
}

function history(c: Ctx): void {
  const store = new ImageStore();
  const img = find(store, c.params.name);
  sendJson(c.res, 200, imageHistory(store, img).map(({ h, size }, i) => ({
    Id: i === 0 ? img.id : '<missing>', Created: h.created ? Math.floor(new Date(h.created).getTime() / 1000) : 0,
    CreatedBy: h.created_by ?? '', Tags: i === 0 ? img.repoTags : null, Size: size, Comment: h.comment ?? '',
  })));
}

/** GET /images/search?term=…: what `skiff search` does (Docker Hub, or a registry's catalog for "HOST/term"). */
async function search(c: Ctx): Promise<void> {
  const raw = c.query.get('term');
  if (!raw) throw new ApiError(400, 'term is required');
  const limit = Number(c.query.get('limit') || 25);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ApiError(400, `limit ${c.query.get('limit')} is outside the range of [1, 100]`);
  const { registry, term } = splitTerm(raw);
  const credentials = registryAuth(c) ?? getCredentials(registry);
  const client = new RegistryClient(registry, { credentials });
  try {
    const found = await searchRegistry(client, term, limit, registry !== defaultRegistry());
    const wantOfficial = filterFlags(c.query).filter((f) => f.startsWith('is-official=')).map((f) => f.endsWith('true'));
    const stars = Math.max(0, ...filterFlags(c.query).filter((f) => f.startsWith('stars=')).map((f) => Number(f.slice(6)) || 0));
    sendJson(c.res, 200, found.filter((r) => r.stars >= stars && wantOfficial.every((o) => o === r.official)).map((r) => ({
      name: r.name, description: r.description, star_count: r.stars, is_official: r.official, is_automated: false,
    })));
  } finally {
    client.close();
  }
}

async function load(c: Ctx): Promise<void> {
  const loaded = await loadArchive(new ImageStore(), c.req);
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  for (const img of loaded) {
    const text = img.tags.length ? img.tags.map((t) => `Loaded image: ${t}\n`).join('') : `Loaded image ID: ${img.id}\n`;
    c.res.write(`${JSON.stringify({ stream: text })}\r\n`);
    imageEvent('load', img.id);
  }
  c.res.end();
}

/** POST /auth (`docker login`): checks the credentials with the registry; the client stores them, the service does not. */
async function auth(c: Ctx): Promise<void> {
  const b = await readJson<{ username?: string; password?: string; serveraddress?: string }>(c.req, c.hijack);
  try {
    await checkCredentials(parseServer(b.serveraddress || undefined), { username: b.username ?? '', password: b.password ?? '' });
  } catch (e) {
    throw new ApiError(401, (e as Error).message);
  }
  sendJson(c.res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
}

export function imageRoutes(r: Router): void {
  r.on('POST', '/auth', auth);
  r.on('GET', '/images/json', list)
    .on('POST', '/images/create', pull)
    .on('POST', '/images/load', load)
    .on('GET', '/images/search', search)
    .on('GET', '/images/get', (c) => save(c, c.query.getAll('names')))
    .on('GET', '/images/{name*}/get', (c) => save(c, [c.params.name]))
    .on('GET', '/images/{name*}/history', history)
    .on('POST', '/images/{name*}/push', push)
    .on('POST', '/images/prune', (c) => {
      // `image prune -a` sends dangling=false: every image no container uses.
      const all = filterFlags(c.query).includes('dangling=false');
      const store = new ImageStore();
      const images = new Set(store.ids());
      const r = pruneImages(store, all);
      for (const d of r.deleted.filter((x) => images.has(x))) imageEvent('delete', d);
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
      const name = normalizeReference(`${repo}:${c.query.get('tag') || 'latest'}`);
      store.tag(img.id, [name]);
      imageEvent('tag', img.id, name);
      c.res.writeHead(201);
      c.res.end();
    })
    .on('DELETE', '/images/{name*}', (c) => {
      const store = new ImageStore();
      const img = find(store, c.params.name);
      const report = removeImage(store, c.params.name, boolParam(c.query, 'force'));
      for (const _ of report.untagged) imageEvent('untag', img.id); // one per name, as Docker reports
      if (report.deleted.includes(img.id)) imageEvent('delete', img.id);
      sendJson(c.res, 200, [...report.untagged.map((u) => ({ Untagged: u })), ...report.deleted.map((d) => ({ Deleted: d }))]);
    });
}
