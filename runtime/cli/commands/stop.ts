import type { CommandModule } from 'yargs';
import { stop } from '../../container/lifecycle.js';
import { eachContainer } from '../each.js';

const cmd: CommandModule<object, { containers: string[]; time: number }> = {
  command: 'stop <containers..>',
  describe: 'Stop one or more running containers (SIGTERM, then SIGKILL after a grace period)',
  builder: (y) => y
    .positional('containers', { type: 'string', array: true, demandOption: true })
    .option('time', { alias: 't', type: 'number', default: 10, describe: 'Seconds to wait before killing the container' }) as never,
  handler: (a) => eachContainer(a.containers, (rec) => stop(rec, a.time)),
};
export default cmd;
