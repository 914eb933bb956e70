import type { CommandModule } from 'yargs';
import { ensureLocal } from '../pull-missing.js';
import { createContainer } from '../../container/create.js';
import { containerOptions, toCreateOptions, type ContainerArgs } from '../container-options.js';

const create: CommandModule<object, ContainerArgs> = {
  command: 'create <image> [command..]',
  describe: 'Create a new container',
  builder: (y) => containerOptions(y) as never,
  handler: async (a) => {
    await ensureLocal(a.image);
    process.stdout.write(`${createContainer(toCreateOptions(a)).Id}\n`);
  },
};
export default create;
