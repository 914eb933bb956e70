// skiff-runc start ID: lets the created container exec its process.
import { start } from '../container.js';
import { needId, parseArgs, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { args } = parseArgs(argv, [], []);
  start(g.root, needId(args, 'start'));
  return 0;
};
export default verb;
