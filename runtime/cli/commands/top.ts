// `skiff top CONTAINER [ps OPTIONS]`: the container's processes, as the
// host's ps shows them (container/top.ts).
import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { topOf } from '../../container/top.js';
import { writeFully } from '../../util/out.js';
import { getCommandWords } from '../split.js';
import { table } from '../table.js';

const cmd: CommandModule<object, { container: string }> = {
  command: 'top <container> [ps-options..]',
  describe: 'Display the running processes of a container',
  builder: (y) => y
    .positional('container', { type: 'string', demandOption: true })
    .positional('ps-options', { type: 'string', array: true, describe: 'Options for ps (default -ef)' }) as never,
  handler: (a) => {
    const top = topOf(findLive(a.container), getCommandWords());
    // Docker's top lays its table out with a minimum column width of 20.
    writeFully(1, Buffer.from(table([top.Titles, ...top.Processes], 20)));
  },
};
export default cmd;
