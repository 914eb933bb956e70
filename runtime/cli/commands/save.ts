import type { CommandModule } from 'yargs';
import { saveToFile, writeDockerArchive, type SaveTarget } from '../../image/save.js';
import { normalizeReference } from '../../image/reference.js';
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
    const targets: SaveTarget[] = [];
    for (const ref of a.images) {
      const img = store.resolve(ref);
      // Saving by name records that name; saving by ID records none (as Docker does).
      let name: string | undefined;
      try {
        name = normalizeReference(ref);
      } catch {
        name = undefined;
      }
      const names = name && img.repoTags.includes(name) ? [name] : [];
      const existing = targets.find((t) => t.id === img.id);
      if (existing) existing.names.push(...names);
      else targets.push({ id: img.id, names });
    }
    if (a.output) return saveToFile(store, targets, a.output);
    if (process.stdout.isTTY) throw new SkiffError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    await writeDockerArchive(store, targets, process.stdout);
  },
};
export default cmd;
