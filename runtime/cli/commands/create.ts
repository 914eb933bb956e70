import type { CommandModule } from 'yargs';
import { createContainer } from '../../container/create.js';
import { containerOptions, toCreateOptions, type ContainerArgs } from '../container-options.js';

const create: CommandModule<object, ContainerArgs> = {
  command: 'create [options] <image> [command..]',
  describe: 'Create a new container',
  builder: (y) => containerOptions(y) as never,
  handler: (a) => {
    process.stdout.write(`${createContainer(toCreateOptions(a)).Id}\n`);
  },
};
export default create;
