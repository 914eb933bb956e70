import type { CommandModule } from 'yargs';
import { remove } from '../../container/lifecycle.js';
import { eachContainer } from '../each.js';

const cmd: CommandModule<object, { containers: string[]; force: boolean; volumes: boolean }> = {
  command: 'rm <containers..>',
  describe: 'Remove one or more containers',
  builder: (y) => y
    .positional('containers', { type: 'string', array: true, demandOption: true })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Force the removal of a running container (uses SIGKILL)' })
    .option('volumes', { alias: 'v', type: 'boolean', default: false, describe: 'Remove anonymous volumes associated with the container (named volumes are kept, as in Docker)' }) as never,
  handler: (a) => eachContainer(a.containers, (rec) => remove(rec, a.force, a.volumes)),
};
export default cmd;
