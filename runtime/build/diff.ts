// A container's changes as an image layer: walk the overlay upper dir and
// write a tar in the OCI/Docker layer format. overlayfs records deletions as
// 0/0 character devices and replaced directories as "opaque" (an xattr);
// the layer format says the same with `.wh.NAME` and `.wh..wh..opq` files.
import { lstatSync, readdirSync, readlinkSync, createReadStream } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { lgetxattr } from '../../native-bindings/libc.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from '../image/unpack.js';

const S_IFMT = 0o170000, S_IFCHR = 0o020000, S_IFBLK = 0o060000, S_IFIFO = 0o010000;

/** Streams the layer tar for `upper`. Entries are sorted, so equal trees give equal bytes. */
export function diffLayer(upper: string): Readable {
  const pack = tar.pack();
  const seen = new Map<string, string>(); // dev:ino -> first path, for hardlinks
  const walk = async (rel: string): Promise<void> => {
    const names = readdirSync(join(upper, rel)).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(upper, path);
      const st = lstatSync(abs);
      const type = st.mode & S_IFMT;
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (type === S_IFCHR && st.rdev === 0) {
        await entry(pack, { ...base, name: posix.join(rel, `${WHITEOUT_PREFIX}${name}`), type: 'file', size: 0, mode: 0o644 });
        continue;
      }
      if (st.isDirectory()) {
        await entry(pack, { ...base, name: `${path}/`, type: 'directory' });
        if (lgetxattr(abs, 'trusted.overlay.opaque')?.toString() === 'y') {
          await entry(pack, { ...base, name: `${path}/${OPAQUE_MARKER}`, type: 'file', size: 0, mode: 0o644 });
        }
        await walk(path);
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1 && seen.has(key)) {
        await entry(pack, { ...base, name: path, type: 'link', linkname: seen.get(key)! });
        continue;
      }
      seen.set(key, path);
      if (st.isSymbolicLink()) await entry(pack, { ...base, name: path, type: 'symlink', linkname: readlinkSync(abs) });
      else if (st.isFile()) await entry(pack, { ...base, name: path, type: 'file', size: st.size }, createReadStream(abs));
      else if (type === S_IFCHR || type === S_IFBLK) {
        await entry(pack, { ...base, name: path, type: type === S_IFCHR ? 'character-device' : 'block-device', devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: st.rdev & 0xff });
      } else if (type === S_IFIFO) await entry(pack, { ...base, name: path, type: 'fifo' });
      // sockets are not part of an image
    }
  };
  walk('').then(() => pack.finalize(), (e) => pack.destroy(e));
  return pack as unknown as Readable;
}

function entry(pack: tar.Pack, header: Parameters<tar.Pack["entry"]>[0], body?: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (!body) {
      pack.entry(header, Buffer.alloc(0), done);
      return;
    }
    body.on('error', reject);
    body.pipe(pack.entry(header, done) as unknown as NodeJS.WritableStream);
  });
}
