import type { CommandModule } from 'yargs';
import { ImageStore } from '../../image/store.js';
import { ProgressDisplay } from '../../registry/progress.js';
import { pullImage } from '../../registry/pull.js';
import { fullName, resolveReference } from '../../registry/reference.js';

interface Args { name: string; platform?: string; quiet: boolean }

const cmd: CommandModule<object, Args> = {
  command: 'pull <name>',
  describe: 'Download an image from a registry',
  builder: (y) => y
    .positional('name', { type: 'string', describe: 'NAME[:TAG|@DIGEST]' })
    .option('platform', { type: 'string', describe: 'Set platform if server is multi-platform capable (os/arch[/variant])' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Suppress verbose output' }) as never,
  handler: async (a) => {
    const r = resolveReference(a.name); // a bad reference fails before any output
    const display = a.quiet ? undefined : new ProgressDisplay(process.stdout);
    await pullImage(new ImageStore(), a.name, { platform: a.platform, onProgress: display?.handle });
    process.stdout.write(`${fullName(r)}\n`);
  },
};
export default cmd;
