// `skiff rename CONTAINER NEW_NAME`.
import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { rename } from '../../container/store.js';
import { SkiffError } from '../../util/errors.js';

const cmd: CommandModule<object, { container: string; 'new-name': string }> = {
  command: 'rename <container> <new-name>',
  describe: 'Rename a container',
  builder: (y) => y
    .positional('container', { type: 'string', demandOption: true })
    .positional('new-name', { type: 'string', demandOption: true }) as never,
  handler: (a) => {
    try {
      rename(findLive(a.container).Id, String(a['new-name']));
    } catch (e) {
      // Docker's rename exits 1 whatever went wrong.
      throw e instanceof SkiffError ? new SkiffError(e.message, 1) : e;
    }
  },
};
export default cmd;
