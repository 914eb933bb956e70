// Random ids (containers, volumes, networks) straight from the kernel's pool.
// node:crypto's randomBytes reads the same pool, but loading node:crypto
// costs ~6 ms of every `run` (it brings Node's stream machinery with it),
// and an id needs 32 bytes.
import { closeSync, openSync, readSync } from 'node:fs';

/** BYTES random bytes from /dev/urandom, as lowercase hex. */
export function randomHex(bytes = 32): string {
  const buf = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    // The kernel fills reads of up to 32 MiB from urandom whole.
    readSync(fd, buf, 0, bytes, null);
  } finally {
    closeSync(fd);
  }
  return buf.toString('hex');
}
