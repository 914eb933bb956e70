// skiff-runc pause ID: freezes every process of the container.
import { pause } from '../container.js';
import { needId, parseArgs, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  pause(g.root, needId(parseArgs(argv, [], []).args, 'pause'));
  return 0;
};
export default verb;
