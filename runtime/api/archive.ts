// /containers/{id}/archive: `docker cp`. GET and HEAD (copy out, stat): a
// running container's files are read through /proc/PID/root, a stopped one's
// through a private mount of its overlay; every path resolved inside the
// container's root (symlinks followed as the container would, never onto the
// host). Symlinks inside the copied tree are archived as links, not followed;
// /proc, /sys and /dev are not walked into. PUT (copy in) is
// runtime/container/copy-in.ts.
import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import * as tar from 'tar-stream';
import { findLive } from '../container/lifecycle.js';
import { CopyError, copyIntoContainer, withContainerRootfs } from '../container/copy-in.js';
import type { ContainerRecord } from '../container/model.js';
import { secureJoin } from '../sandbox/securejoin.js';
import { ApiError, boolParam, type Ctx, type Router } from './router.js';

const KERNEL_FS = /^\/(proc|sys|dev)(\/|$)/;

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

/** Runs `fn` with the container's root as the host sees it: /proc/PID/root while it runs, else its overlay mounted for the while. */
async function withRoot(c: Ctx, fn: (root: string) => Promise<void>): Promise<void> {
  const rec = container(c);
  if (rec.State.Running) return fn(`/proc/${rec.State.Pid}/root`);
  return withContainerRootfs(rec, fn);
}

function resolve(c: Ctx, root: string) {
  const path = c.query.get('path');
  if (!path) throw new ApiError(400, 'path is required');
  const inside = posix.resolve('/', path);
  if (KERNEL_FS.test(inside)) throw new ApiError(400, `copying from ${inside} is not supported`);
  let host: string;
  try {
    host = secureJoin(root, inside, KERNEL_FS);
  } catch (e) {
    throw new ApiError(400, (e as Error).message);
  }
  let st: Stats;
  try {
    st = lstatSync(host);
  } catch {
    throw new ApiError(404, `Could not find the file ${path} in container ${c.params.id}`);
  }
  const stat = {
    name: posix.basename(inside) || '/', size: st.size, mode: goMode(st), mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? readlinkSync(host) : '',
  };
  return { root, host, inside, st, header: Buffer.from(JSON.stringify(stat)).toString('base64') };
}

async function archive(c: Ctx, root: string): Promise<void> {
  const { host, inside, st, header } = resolve(c, root);
  c.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': header });
  if (c.req.method === 'HEAD') return void c.res.end();
  const pack = tar.pack();
  pack.on('error', () => {});
  pack.pipe(c.res);
  // The client may go away mid-copy: stop walking then.
  c.res.once('close', () => pack.destroy());
  const put = (h: Parameters<tar.Pack['entry']>[0], file?: string) => new Promise<void>((done, fail) => {
    if (pack.destroyed) return fail(new Error('the client went away'));
    if (!file) return void pack.entry(h, (e) => (e ? fail(e) : done()));
    const sink = pack.entry(h, (e) => (e ? fail(e) : done()));
    (sink as unknown as NodeJS.EventEmitter).on('error', fail);
    createReadStream(file).on('error', fail).pipe(sink as unknown as NodeJS.WritableStream);
  });
  const base = posix.basename(inside) || '.';
  const walk = async (abs: string, name: string, s: Stats): Promise<void> => {
    const h = { name, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtime: s.mtime };
    if (s.isSymbolicLink()) return put({ ...h, type: 'symlink', linkname: readlinkSync(abs) });
    if (s.isFile()) return put({ ...h, type: 'file', size: s.size }, abs);
    if (!s.isDirectory()) return; // devices, sockets and fifos are left out
    await put({ ...h, type: 'directory' });
    const here = abs.slice(root.length) || '/';
    if (KERNEL_FS.test(here)) return;
    for (const e of readdirSync(abs).sort()) {
      try {
        await walk(posix.join(abs, e), posix.join(name, e), lstatSync(posix.join(abs, e)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // removed meanwhile
      }
    }
  };
  try {
    await walk(host, base, st);
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
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
  r.on('GET', '/containers/{id}/archive', (c) => withRoot(c, (root) => archive(c, root)))
    .on('PUT', '/containers/{id}/archive', extract);
}
