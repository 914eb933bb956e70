// /containers/{id}/archive: `docker cp`. GET and HEAD (copy out, stat) over
// runtime/container/copy-out.ts, PUT (copy in) over copy-in.ts.
import { readlinkSync, type Stats } from 'node:fs';
import * as tar from 'tar-stream';
import { findLive } from '../container/lifecycle.js';
import { CopyError, copyIntoContainer } from '../container/copy-in.js';
import { findInContainer, NotFoundInContainer, packTree, withRoot } from '../container/copy-out.js';
import type { ContainerRecord } from '../container/model.js';
import { ApiError, boolParam, type Ctx, type Router } from './router.js';

/** Go's os.FileMode bits, which the client decodes (added: bit 31 does not fit JavaScript's int32 `|`). */
function goMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += 2 ** 31;
  if (st.isSymbolicLink()) m += 2 ** 27;
  if (st.mode & 0o4000) m += 2 ** 23;
  if (st.mode & 0o2000) m += 2 ** 22;
  if (st.mode & 0o1000) m += 2 ** 20;
  return m;
}

function container(c: Ctx): ContainerRecord {
  try {
    return findLive(c.params.id);
  } catch {
    throw new ApiError(404, `No such container: ${c.params.id}`);
  }
}

/** GET (the tree as a tar) and HEAD (its stat only), with the stat in X-Docker-Container-Path-Stat. */
async function archive(c: Ctx, root: string): Promise<void> {
  const path = c.query.get('path');
  if (!path) throw new ApiError(400, 'path is required');
  let found;
  try {
    found = findInContainer(root, path);
  } catch (e) {
    if (e instanceof NotFoundInContainer) throw new ApiError(404, `${e.message} ${c.params.id}`);
    if (e instanceof CopyError) throw new ApiError(400, e.message);
    throw e;
  }
  const { st, inside } = found;
  const stat = {
    name: inside.split('/').pop() || '/', size: st.size, mode: goMode(st), mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? readlinkSync(found.host) : '',
  };
  c.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64') });
  if (c.req.method === 'HEAD') return void c.res.end();
  const pack = tar.pack();
  pack.on('error', () => {});
  pack.pipe(c.res);
  // The client may go away mid-copy: stop walking then.
  c.res.once('close', () => pack.destroy());
  try {
    await packTree(found, pack);
  } catch {
    c.res.destroy();
  }
}

/** PUT: a tar extracted into the directory `path` (`docker cp SRC CONTAINER:PATH`). */
async function extract(c: Ctx): Promise<void> {
  const path = c.query.get('path');
  if (!path) throw new ApiError(400, 'path is required');
  const rec = container(c);
  try {
    await copyIntoContainer(rec, path, c.req, { noOverwriteDirNonDir: boolParam(c.query, 'noOverwriteDirNonDir') });
  } catch (e) {
    if (e instanceof CopyError) throw new ApiError(400, e.message);
    if (/^Could not find the file/.test((e as Error).message)) throw new ApiError(404, `${(e as Error).message} ${c.params.id}`);
    throw e;
  }
  c.res.writeHead(200);
  c.res.end();
}

export function archiveRoutes(r: Router): void {
  r.on('GET', '/containers/{id}/archive', (c) => withRoot(container(c), (root) => archive(c, root)))
    .on('PUT', '/containers/{id}/archive', extract);
}
