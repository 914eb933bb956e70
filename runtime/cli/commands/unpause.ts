import type { CommandModule } from 'yargs';
import { unpause } from '../../container/pause.js';
import { eachContainer } from '../each.js';

const cmd: CommandModule<object, { containers: string[] }> = {
  command: 'unpause <containers..>',
  describe: 'Unpause all processes within one or more containers',
  builder: (y) => y.positional('containers', { type: 'string', array: true, demandOption: true }) as never,
  handler: (a) => eachContainer(a.containers, (rec) => unpause(rec)),
};
export default cmd;
