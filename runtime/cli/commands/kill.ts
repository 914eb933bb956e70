import type { CommandModule } from 'yargs';
import { kill } from '../../container/lifecycle.js';
import { eachContainer } from '../each.js';

const cmd: CommandModule<object, { containers: string[]; signal: string }> = {
  command: 'kill <containers..>',
  describe: 'Kill one or more running containers',
  builder: (y) => y
    .positional('containers', { type: 'string', array: true, demandOption: true })
    .option('signal', { alias: 's', type: 'string', default: 'KILL', describe: 'Signal to send to the container' }) as never,
  handler: (a) => eachContainer(a.containers, (rec) => kill(rec, a.signal)),
};
export default cmd;
