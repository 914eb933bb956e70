// skiff-runc state ID: the runtime-spec state as JSON.
import { load, specState } from '../state.js';
import { needId, parseArgs, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { args } = parseArgs(argv, [], []);
  const s = load(g.root, needId(args, 'state'));
  process.stdout.write(`${JSON.stringify(specState(g.root, s), null, '  ')}\n`);
  return 0;
};
export default verb;
