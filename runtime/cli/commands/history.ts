import type { CommandModule } from 'yargs';
import { ImageStore } from '../../image/store.js';
import { HISTORY_LISTING, historyRows } from '../image-list.js';
import { noTrunc, noTruncOption, writeListing } from '../listing.js';

interface Args { image: string; 'no-trunc': boolean; trunc?: boolean; quiet: boolean; human: boolean; format?: string }

const cmd: CommandModule<object, Args> = {
  command: 'history <image>',
  describe: 'Show the history of an image',
  builder: (y) => noTruncOption(y)
    .positional('image', { type: 'string', demandOption: true })
    .option('format', { type: 'string', requiresArg: true, describe: "Format output: 'table', 'table TEMPLATE', 'json' or a Go template" })
    .option('human', { alias: 'H', type: 'boolean', default: true, describe: 'Print sizes and dates in human readable format' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only show image IDs' }) as never,
  handler: (a) => {
    const store = new ImageStore();
    const rows = historyRows(store, store.resolve(a.image), { noTrunc: noTrunc(a), human: a.human });
    writeListing(rows, HISTORY_LISTING, { quiet: a.quiet, format: a.format });
  },
};
export default cmd;
