// skiff-runc update: resource updates are not supported yet; says so (exit 1) rather than pretend.
import { load } from '../state.js';
import { needId, parseArgs, type Verb } from './args.js';
import { RuncError } from '../state.js';

const verb: Verb = async (argv, g) => {
  const { args } = parseArgs(argv, ['resources', 'r', 'memory', 'memory-swap', 'cpu-shares', 'cpu-quota', 'cpu-period', 'pids-limit', 'cpuset-cpus', 'cpuset-mems', 'blkio-weight', 'kernel-memory', 'kernel-memory-tcp', 'memory-reservation', 'cpu-rt-period', 'cpu-rt-runtime', 'l3-cache-schema', 'mem-bw-schema'], []);
  load(g.root, needId(args, 'update'));
  throw new RuncError('update is not supported by skiff-runc');
};
export default verb;
