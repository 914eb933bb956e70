import type { CommandModule } from 'yargs';
import { ensureLocal } from '../pull-missing.js';
import { mark } from '../../util/trace.js';
import { createContainer } from '../../container/create.js';
import { remove } from '../../container/lifecycle.js';
import { runAttached, runDetached } from '../../container/run.js';
import * as store from '../../container/store.js';
import { containerOptions, toCreateOptions, type ContainerArgs } from '../container-options.js';

const run: CommandModule<object, ContainerArgs & { detach: boolean }> = {
  command: 'run <image> [command..]',
  describe: 'Create and run a new container from an image',
  builder: (y) => containerOptions(y).option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'Run container in background and print container ID' }) as never,
  handler: async (a) => {
    mark('cli-parsed');
    // As Docker's run: a missing image is pulled first (progress on stderr).
    await ensureLocal(a.image);
    const rec = createContainer({ ...toCreateOptions(a), claimStart: true });
    mark('created');
    try {
      if (a.detach) {
        await runDetached(rec.Id);
        process.stdout.write(`${rec.Id}\n`);
        return;
      }
      process.exitCode = await runAttached(rec.Id);
      mark('done');
    } catch (e) {
      // A run that could not start leaves nothing behind: no state, mount or cgroup.
      const current = (() => { try { return store.read(rec.Id); } catch { return undefined; } })();
      if (current && !current.State.Running) await remove(current, true);
      throw e;
    }
  },
};
export default run;
