// skiff-runc delete [--force] ID...: removes stopped (or created) containers; --force kills running ones first.
import { remove } from '../container.js';
import { load } from '../state.js';
import { parseArgs, UsageError, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { flags, args } = parseArgs(argv, [], ['force'], { f: 'force' });
  if (args.length < 1) throw new UsageError('"delete" requires a minimum of 1 argument');
  for (const id of args) {
    if (flags.force) {
      try {
        load(g.root, id);
      } catch {
        // runc: delete --force of a missing container succeeds (after cleaning what a killed create left)
        try {
          remove(g.root, id, true);
        } catch {
          // nothing there
        }
        continue;
      }
    }
    remove(g.root, id, flags.force === true);
  }
  return 0;
};
export default verb;
