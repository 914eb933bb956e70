// Blocking reads of the small pipes a start uses to hear from its child.
import { readSync } from 'node:fs';

/** One blocking read ('' at EOF). */
export function readSome(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = readSync(fd, buf);
  return buf.subarray(0, n).toString('utf8');
}

/** Reads a pipe to EOF (blocking: the child either execs or fails within milliseconds). */
export function readToEnd(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}
