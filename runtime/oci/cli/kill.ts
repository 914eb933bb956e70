// skiff-runc kill [--all] ID [SIGNAL]: SIGNAL by name (KILL, SIGKILL) or number; TERM by default.
import { kill } from '../container.js';
import { parseArgs, UsageError, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { flags, args } = parseArgs(argv, [], ['all'], { a: 'all' });
  if (args.length < 1) throw new UsageError('"kill" requires a minimum of 1 argument');
  if (args.length > 2) throw new UsageError('"kill" requires a maximum of 2 arguments');
  kill(g.root, args[0], args[1], flags.all === true);
  return 0;
};
export default verb;
