// POST /build: Docker's classic builder over the Engine API, as
// `DOCKER_BUILDKIT=0 docker build` drives it. The body is the build context
// as a tar; it is unpacked into a private temp dir (removed afterwards,
// whatever happens) and built by the same library as `skiff build`. The
// answer is the classic JSON stream: {"stream": "Step 1/3 : ..."} lines, an
// {"aux": {"ID": ...}} for the image, or {"errorDetail": ...} on failure.
import { lstatSync } from 'node:fs';
import { posix } from 'node:path';
import { Writable } from 'node:stream';
import { build } from '../build/builder.js';
import { withContextArchive } from '../build/context.js';
import { normalizeReference } from '../image/reference.js';
import { pruneBuildCache } from '../image/remove.js';
import { ImageStore } from '../image/store.js';
import { secureJoin } from '../sandbox/securejoin.js';
import { imageEvent } from './events.js';
import { ApiError, boolParam, sendJson, type Ctx, type Router } from './router.js';

/** buildargs / labels: a JSON object of strings (a null build arg means "from the client's environment", which has already been applied). */
function jsonMap(c: Ctx, key: string): Record<string, string> {
  const raw = c.query.get(key);
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new ApiError(400, `invalid ${key}: not JSON: ${raw}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, `invalid ${key}: expected a JSON object`);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null).map(([k, x]) => [k, String(x)]));
}

async function buildImage(c: Ctx): Promise<void> {
  const q = c.query;
  if (q.get('remote')) throw new ApiError(400, 'skiff builds from an uploaded context only, not from remote=');
  if (q.get('version') === '2') throw new ApiError(400, 'BuildKit is not supported: build with DOCKER_BUILDKIT=0 (the classic builder)');
  const tags = q.getAll('t').filter(Boolean).map((t) => {
    try {
      return normalizeReference(t);
    } catch (e) {
      throw new ApiError(400, `invalid tag "${t}": ${(e as Error).message}`);
    }
  });
  const buildArgs = jsonMap(c, 'buildargs');
  const labels = jsonMap(c, 'labels');
  const mode = q.get('networkmode') || 'default';
  // skiff's builder runs RUN without a network unless asked (as `skiff build` does).
  const network = mode === 'default' ? 'none' : mode;
  if (!['none', 'host', 'bridge'].includes(network)) throw new ApiError(400, `networkmode ${mode} is not supported for builds: none, host or bridge`);
  const dockerfile = q.get('dockerfile') || 'Dockerfile';
  const images = new ImageStore();

  await withContextArchive(images, c.req, (dir) => buildFrom(c, images, dir, { tags, buildArgs, labels, network, dockerfile })).catch((e: Error) => {
    if (/^unable to read the build context/.test(e.message)) throw new ApiError(/larger than/.test(e.message) ? 413 : 400, e.message);
    throw e;
  });
  // Only now, with the context removed: a client that sees the end sees nothing left behind.
  c.res.end();
}

interface Asked { tags: string[]; buildArgs: Record<string, string>; labels: Record<string, string>; network: string; dockerfile: string }

async function buildFrom(c: Ctx, images: ImageStore, dir: string, { tags, buildArgs, labels, network, dockerfile }: Asked): Promise<void> {
  const q = c.query;
  {
    // The Dockerfile is read from the context: never through a link that leads out of it.
    const file = secureJoin(dir, posix.normalize(`/${dockerfile}`));
    let isFile = false;
    try {
      isFile = lstatSync(file).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) throw new ApiError(500, `Cannot locate specified Dockerfile: ${dockerfile}`);

    c.res.writeHead(200, { 'Content-Type': 'application/json' });
    // A client that goes away (Ctrl-C) cancels the build, as with Docker.
    const cancel = new AbortController();
    c.res.once('close', () => { if (!c.res.writableFinished) cancel.abort(); });
    const send = (o: object) => { if (!c.res.destroyed) c.res.write(`${JSON.stringify(o)}\r\n`); };
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        send({ stream: chunk.toString('utf8') });
        cb();
      },
    });
    try {
      const id = await build(images, {
        context: dir, dockerfile: file, tags, buildArgs, labels, noCache: boolParam(q, 'nocache'), target: q.get('target') || undefined,
        quiet: boolParam(q, 'q'), network, out, runOutput: 'out', signal: cancel.signal, onBuilt: (built) => send({ aux: { ID: built } }),
      });
      for (const t of tags) imageEvent('tag', id, t);
    } catch (e) {
      const message = (e as Error).message;
      await new Promise((r) => out.end(r));
      send({ errorDetail: { message }, error: message });
      return;
    }
    await new Promise((r) => out.end(r));
  }
}

export function buildRoutes(r: Router): void {
  r.on('POST', '/build', buildImage)
    .on('POST', '/build/prune', (c) => {
      const r = pruneBuildCache(new ImageStore());
      sendJson(c.res, 200, { CachesDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.bytes });
    })
    // Builds are not cancellable yet: the build goes on to its end (the client has gone).
    .on('POST', '/build/cancel', (c) => sendJson(c.res, 200, {}));
}
