// skiff-runc update [--resources FILE|-] [--memory N] [--memory-swap N] [--cpu-shares N] [--cpu-quota N] [--cpu-period N] [--pids-limit N] ID
import { update } from '../update.js';
import { needId, parseArgs, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { flags, args } = parseArgs(argv, ['resources', 'memory', 'memory-swap', 'cpu-shares', 'cpu-quota', 'cpu-period', 'pids-limit'], [], { r: 'resources', m: 'memory' });
  const s = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const f = {
    resources: s('resources'), memory: s('memory'), memorySwap: s('memory-swap'), cpuShares: s('cpu-shares'), cpuQuota: s('cpu-quota'),
    cpuPeriod: s('cpu-period'), pidsLimit: s('pids-limit'),
  };
  update(g.root, needId(args, 'update'), Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)));
  return 0;
};
export default verb;
