import { writeFully } from '../util/out.js';

// How the CLI reports failure: one line on stderr, Docker's exit code.
export function fail(message: string, code = 125, verb?: string): never {
  process.stderr.write(`skiff: ${message}\n`);
  if (verb && code === 125 && /unknown flag|Not enough|Missing required|Invalid values/.test(message)) {
    process.stderr.write(`See 'skiff ${verb} --help'.\n`);
  }
  process.exit(code);
}

/**
 * Writes a command's whole output to stdout in one go (util/out.ts says why
 * not process.stdout). A reader that has gone (`| head -1`) has what it
 * wanted: the command ends quietly.
 */
export function printOut(text: string): void {
  if (!writeFully(1, Buffer.from(text))) process.exit(0);
}
