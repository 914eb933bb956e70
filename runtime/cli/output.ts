import { writeSync } from 'node:fs';

// How the CLI reports failure: one line on stderr, Docker's exit code.
export function fail(message: string, code = 125, verb?: string): never {
  process.stderr.write(`skiff: ${message}\n`);
  if (verb && code === 125 && /unknown flag|Not enough|Missing required|Invalid values/.test(message)) {
    process.stderr.write(`See 'skiff ${verb} --help'.\n`);
  }
  process.exit(code);
}

/**
 * Writes a command's whole output to stdout in one go, synchronously.
 * process.stdout is a stream Node builds on first use, loading node:stream
 * and, for a pipe or a terminal, node:net: ~4 ms of a `skiff ps` whose
 * output is one write anyway. A reader that has gone (`| head -1`) has what
 * it wanted: the command ends quietly.
 */
export function printOut(text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(1, bytes, done);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') process.exit(0);
    // stdout inherited in non-blocking mode: let the stream wait for room.
    if (code !== 'EAGAIN') throw e;
    process.stdout.write(bytes.subarray(done));
  }
}
