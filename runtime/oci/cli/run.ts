// skiff-runc run [--detach] [create's flags] ID: create and start; in the foreground, wait and return its exit code.
import { run } from '../container.js';
import { needId, parseArgs, type Verb } from './args.js';
import { CREATE_ALIAS, CREATE_BOOLS, CREATE_VALUES, createOptions } from './create.js';

const verb: Verb = async (argv, g) => {
  const { flags, args } = parseArgs(argv, CREATE_VALUES, [...CREATE_BOOLS, 'detach', 'keep', 'no-subreaper'], { ...CREATE_ALIAS, d: 'detach' });
  return run({ ...createOptions(flags, needId(args, 'run'), g.root), detach: flags.detach === true });
};
export default verb;
