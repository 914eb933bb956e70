import type { CommandModule } from 'yargs';
import { normalizeReference } from '../../image/reference.js';
import { ImageStore } from '../../image/store.js';

const cmd: CommandModule<object, { source: string; target: string }> = {
  command: 'tag <source> <target>',
  describe: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  builder: (y) => y.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true }) as never,
  handler: (a) => {
    const store = new ImageStore();
    const img = store.resolve(a.source);
    store.tag(img.id, [normalizeReference(a.target)]);
  },
};
export default cmd;
