import type { CommandModule } from 'yargs';
import { ImageStore } from '../../image/store.js';
import { ProgressDisplay } from '../../registry/progress.js';
import { pushImage } from '../../registry/push.js';

interface Args { name: string; quiet: boolean }

const cmd: CommandModule<object, Args> = {
  command: 'push <name>',
  describe: 'Upload an image to a registry',
  builder: (y) => y
    .positional('name', { type: 'string', describe: 'NAME[:TAG]' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Suppress verbose output' }) as never,
  handler: async (a) => {
    const display = a.quiet ? undefined : new ProgressDisplay(process.stdout);
    const result = await pushImage(new ImageStore(), a.name, { onProgress: display?.handle });
    if (a.quiet) process.stdout.write(`${result.repository}:${result.tag}\n`);
  },
};
export default cmd;
