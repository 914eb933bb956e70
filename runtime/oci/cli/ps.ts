// skiff-runc ps [--format table|json] ID [ps options]: the container's processes (json: their pids, as runc).
import { execFileSync } from 'node:child_process';
import { ps } from '../container.js';
import { parseArgs, UsageError, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { flags, args } = parseArgs(argv, ['format'], [], { f: 'format' }, true);
  if (args.length < 1) throw new UsageError('"ps" requires a minimum of 1 argument');
  const pids = ps(g.root, args[0]);
  if (flags.format === 'json') {
    process.stdout.write(`${JSON.stringify(pids)}\n`);
    return 0;
  }
  const out = execFileSync('ps', args.length > 1 ? args.slice(1) : ['-ef'], { encoding: 'utf8' }).split('\n');
  const pidCol = out[0].split(/\s+/).filter(Boolean).indexOf('PID');
  process.stdout.write(`${out[0]}\n`);
  for (const line of out.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (pids.includes(Number(f[pidCol]))) process.stdout.write(`${line}\n`);
  }
  return 0;
};
export default verb;
