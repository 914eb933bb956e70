// skiff-runc spec [--bundle DIR]: writes runc's default config.json (rootfs "rootfs", sh on a terminal).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuncError } from '../state.js';
import { defaultSpec } from '../spec.js';
import { parseArgs, type Verb } from './args.js';

const verb: Verb = async (argv) => {
  const { flags } = parseArgs(argv, ['bundle'], ['rootless'], { b: 'bundle' });
  const file = join((flags.bundle as string | undefined) ?? '.', 'config.json');
  if (existsSync(file)) throw new RuncError('File config.json exists. Remove it first.');
  writeFileSync(file, `${JSON.stringify(defaultSpec(), null, '\t')}\n`);
  return 0;
};
export default verb;
