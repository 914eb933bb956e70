// How the CLI reports failure: one line on stderr, Docker's exit code.
export function fail(message: string, code = 125, verb?: string): never {
  process.stderr.write(`skiff: ${message}\n`);
  if (verb && code === 125 && /unknown flag|Not enough|Missing required|Invalid values/.test(message)) {
    process.stderr.write(`See 'skiff ${verb} --help'.\n`);
  }
  process.exit(code);
}
