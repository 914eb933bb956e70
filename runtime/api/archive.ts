// GET and HEAD /containers/{id}/archive: `docker cp CONTAINER:PATH DEST`.
// Copying out of a running container only: its files are read through
// /proc/PID/root, every path resolved inside the container's root (symlinks
// followed as the container would, never onto the host). Symlinks inside the
// copied tree are archived as links, not followed; /proc, /sys and /dev are
// not walked into.
import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import * as tar from 'tar-stream';
import { findLive } from '../container/lifecycle.js';
import { secureJoin } from '../sandbox/securejoin.js';
import { ApiError, type Ctx, type Router } from './router.js';

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

function resolve(c: Ctx) {
  const path = c.query.get('path');
  if (!path) throw new ApiError(400, 'path is required');
  let rec;
  try {
    rec = findLive(c.params.id);
  } catch {
    throw new ApiError(404, `No such container: ${c.params.id}`);
  }
  if (!rec.State.Running) throw new ApiError(409, `container ${rec.Name.slice(1)} is not running: skiff copies out of running containers only`);
  const root = `/proc/${rec.State.Pid}/root`;
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

async function archive(c: Ctx): Promise<void> {
  const { root, host, inside, st, header } = resolve(c);
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

export function archiveRoutes(r: Router): void {
  r.on('GET', '/containers/{id}/archive', archive);
  // PUT (copying into a container) needs an extraction that a container cannot
  // redirect with a symlink swapped in mid-copy; until then it answers 501.
}
