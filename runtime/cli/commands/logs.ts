import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { readLogs } from '../../container/logs.js';
import * as store from '../../container/store.js';
import { SkiffError } from '../../util/errors.js';

interface Args { container: string; follow: boolean; tail: string; timestamps: boolean }

const cmd: CommandModule<object, Args> = {
  command: 'logs <container>',
  describe: 'Fetch the logs of a container',
  builder: (y) => y
    .positional('container', { type: 'string', demandOption: true })
    .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Follow log output' })
    .option('tail', { alias: 'n', type: 'string', default: 'all', describe: 'Number of lines to show from the end of the logs' })
    .option('timestamps', { alias: 't', type: 'boolean', default: false, describe: 'Show timestamps' }) as never,
  handler: async (a) => {
    const rec = findLive(a.container);
    if (a.tail !== 'all' && !/^\d+$/.test(a.tail)) throw new SkiffError(`invalid value for --tail: "${a.tail}"`);
    await readLogs(rec.LogPath, process.stdout, process.stderr, {
      follow: a.follow,
      tail: a.tail === 'all' ? undefined : Number(a.tail),
      timestamps: a.timestamps,
      isRunning: () => {
        try {
          return store.read(rec.Id).State.Running;
        } catch {
          return false;
        }
      },
    });
  },
};
export default cmd;
