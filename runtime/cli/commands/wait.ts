import type { CommandModule } from 'yargs';
import { refresh, waitStopped } from '../../container/lifecycle.js';
import * as store from '../../container/store.js';
import { eachContainer } from '../each.js';

const cmd: CommandModule<object, { containers: string[] }> = {
  command: 'wait <containers..>',
  describe: 'Block until one or more containers stop, then print their exit codes',
  builder: (y) => y.positional('containers', { type: 'string', array: true, demandOption: true }) as never,
  handler: (a) => eachContainer(a.containers, async (rec) => {
    await waitStopped(rec.Id);
    process.stdout.write(`${refresh(store.read(rec.Id)).State.ExitCode}\n`);
  }, false),
};
export default cmd;
