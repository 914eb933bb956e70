import type { CommandModule } from 'yargs';
import { pause } from '../../container/pause.js';
import { eachContainer } from '../each.js';

const cmd: CommandModule<object, { containers: string[] }> = {
  command: 'pause <containers..>',
  describe: 'Pause all processes within one or more containers (cgroup freezer)',
  builder: (y) => y.positional('containers', { type: 'string', array: true, demandOption: true }) as never,
  handler: (a) => eachContainer(a.containers, (rec) => pause(rec)),
};
export default cmd;
