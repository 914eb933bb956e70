// `skiff container prune`: Docker's management-command spelling, for what has
// no top-level verb. Stopped containers go, and with them whatever a killed
// command left (the next command already rolled back dead starts).
import type { Argv, CommandModule } from 'yargs';
import { pruneContainers } from '../../container/recover.js';
import { humanSize } from '../humanize.js';

const prune: CommandModule<object, { force: boolean }> = {
  command: 'prune',
  describe: 'Remove all stopped containers',
  builder: (y) => y.option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not prompt for confirmation' }) as never,
  handler: async (a) => {
    if (!a.force) {
      process.stdout.write('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
      const answer = await new Promise<string>((resolve) => {
        process.stdin.once('data', (d) => resolve(d.toString()));
        process.stdin.once('end', () => resolve(''));
      });
      process.stdin.pause();
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const r = await pruneContainers();
    if (r.deleted.length) process.stdout.write(`Deleted Containers:\n${r.deleted.join('\n')}\n\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(r.bytes)}\n`);
  },
};

const cmd: CommandModule = {
  command: 'container <command>',
  describe: 'Manage containers',
  builder: (y: Argv) => y.command(prune).demandCommand(1, 'container needs a subcommand') as never,
  handler: () => {},
};
export default cmd;
