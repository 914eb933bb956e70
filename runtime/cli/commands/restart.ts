import type { CommandModule } from 'yargs';
import { stop } from '../../container/lifecycle.js';
import { runDetached } from '../../container/run.js';
import { eachContainer } from '../each.js';

const cmd: CommandModule<object, { containers: string[]; time: number }> = {
  command: 'restart <containers..>',
  describe: 'Restart one or more containers',
  builder: (y) => y
    .positional('containers', { type: 'string', array: true, demandOption: true })
    .option('time', { alias: 't', type: 'number', default: 10, describe: 'Seconds to wait for stop before killing the container' }) as never,
  handler: (a) => eachContainer(a.containers, async (rec) => {
    await stop(rec, a.time);
    await runDetached(rec.Id);
  }),
};
export default cmd;
