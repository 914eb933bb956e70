import type { CommandModule } from 'yargs';
import { saveTargets, saveToFile, writeDockerArchive } from '../../image/save.js';
import { ImageStore } from '../../image/store.js';
import { SkiffError } from '../../util/errors.js';

const cmd: CommandModule<object, { images: string[]; output?: string }> = {
  command: 'save <images..>',
  describe: 'Save one or more images to a tar archive (docker-archive, streamed to STDOUT by default)',
  builder: (y) => y
    .positional('images', { type: 'string', array: true, demandOption: true })
    .option('output', { alias: 'o', type: 'string', describe: 'Write to a file, instead of STDOUT' }) as never,
  handler: async (a) => {
    const store = new ImageStore();
    const targets = saveTargets(store, a.images);
    if (a.output) return saveToFile(store, targets, a.output);
    if (process.stdout.isTTY) throw new SkiffError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    await writeDockerArchive(store, targets, process.stdout);
  },
};
export default cmd;
