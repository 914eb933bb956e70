import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { runAttached, runDetached } from '../../container/run.js';
import { eachContainer } from '../each.js';
import { explainFlag } from '../container-options.js';

interface Args { containers: string[]; attach: boolean; interactive: boolean }

const start: CommandModule<object, Args> = {
  command: 'start <containers..>',
  describe: 'Start one or more stopped containers',
  builder: (y) => explainFlag(y)
    .positional('containers', { type: 'string', array: true, demandOption: true })
    .option('attach', { alias: 'a', type: 'boolean', default: false, describe: 'Attach STDOUT/STDERR and forward signals' })
    .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: "Attach container's STDIN" }) as never,
  handler: async (a) => {
    if (a.attach || a.interactive) {
      if (a.containers.length > 1) throw new Error('you cannot start and attach multiple containers at once');
      const rec = findLive(a.containers[0]);
      if (rec.State.Running) return; // Docker: attaching to a running container is `attach`
      process.exitCode = await runAttached(rec.Id);
      return;
    }
    await eachContainer(a.containers, async (rec) => {
      if (!rec.State.Running) await runDetached(rec.Id);
    });
  },
};
export default start;
