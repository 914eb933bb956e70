// Writing to stdout or stderr without process.stdout/process.stderr: Node
// builds those streams on first use, loading node:stream and, for a pipe or a
// terminal, node:net (~4 ms of a `skiff ps`).
import { writeSync } from 'node:fs';

/**
 * Writes BYTES to FD (1 or 2) whole, synchronously. When the descriptor was
 * inherited in non-blocking mode (EAGAIN), the rest goes through Node's
 * stream, which waits for room. False when the reader has gone (EPIPE).
 */
export function writeFully(fd: 1 | 2, bytes: Uint8Array): boolean {
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return false;
    if (code !== 'EAGAIN') throw e;
    // A copy: the caller may reuse BYTES before the stream gets to them.
    (fd === 1 ? process.stdout : process.stderr).write(Buffer.from(bytes.subarray(done)));
  }
  return true;
}
