import type { CommandModule } from 'yargs';
import { removeImage } from '../../image/remove.js';
import { ImageStore } from '../../image/store.js';

const cmd: CommandModule<object, { images: string[]; force: boolean }> = {
  command: 'rmi <images..>',
  describe: 'Remove one or more images',
  builder: (y) => y
    .positional('images', { type: 'string', array: true, demandOption: true })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Force removal of an image used by a stopped container' }) as never,
  handler: (a) => {
    const store = new ImageStore();
    let failed = false;
    for (const ref of a.images) {
      try {
        const r = removeImage(store, ref, a.force);
        for (const n of r.untagged) process.stdout.write(`Untagged: ${n}\n`);
        for (const d of r.deleted) process.stdout.write(`Deleted: ${d}\n`);
      } catch (e) {
        process.stderr.write(`skiff: ${(e as Error).message}\n`);
        failed = true;
      }
    }
    if (failed) process.exitCode = 1;
  },
};
export default cmd;
