import { createReadStream } from 'node:fs';
import type { CommandModule } from 'yargs';
import { loadArchive } from '../../image/load.js';
import { ImageStore } from '../../image/store.js';
import { SkiffError } from '../../util/errors.js';

const cmd: CommandModule<object, { input?: string; quiet: boolean }> = {
  command: 'load',
  describe: 'Load an image from a tar archive or STDIN (docker-archive or OCI layout, optionally gzipped)',
  builder: (y) => y
    .option('input', { alias: 'i', type: 'string', describe: 'Read from tar archive file, instead of STDIN' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Suppress the load output' }) as never,
  handler: async (a) => {
    if (!a.input && process.stdin.isTTY) throw new SkiffError('requested load from stdin, but stdin is empty; use -i FILE');
    const input = a.input ? createReadStream(a.input) : process.stdin;
    const opened = new Promise<void>((resolve, reject) => {
      if (!a.input) return resolve();
      input.once('open', () => resolve());
      input.once('error', (e: NodeJS.ErrnoException) => reject(new SkiffError(`open ${a.input}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`)));
    });
    await opened;
    const loaded = await loadArchive(new ImageStore(), input);
    if (a.quiet) return;
    for (const img of loaded) {
      if (img.tags.length) img.tags.forEach((t) => process.stdout.write(`Loaded image: ${t}\n`));
      else process.stdout.write(`Loaded image ID: ${img.id}\n`);
    }
  },
};
export default cmd;
