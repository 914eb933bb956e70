// skiff-runc resume ID: thaws a paused container.
import { resume } from '../container.js';
import { needId, parseArgs, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  resume(g.root, needId(parseArgs(argv, [], []).args, 'resume'));
  return 0;
};
export default verb;
