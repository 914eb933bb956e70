import type { CommandModule } from 'yargs';
import { ImageStore } from '../../image/store.js';
import { parseFilters } from '../filters.js';
import { IMAGES_FILTERS, imageRows, imagesListing } from '../image-list.js';
import { noTrunc, noTruncOption, writeListing } from '../listing.js';

interface Args { quiet: boolean; 'no-trunc': boolean; trunc?: boolean; all: boolean; digests: boolean; repository?: string; filter?: string[]; format?: string }

const cmd: CommandModule<object, Args> = {
  command: 'images [repository]',
  describe: 'List images',
  builder: (y) => noTruncOption(y)
    .positional('repository', { type: 'string', describe: 'Only images of this repository (name[:tag])' })
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Show all images (default hides intermediate images)' })
    .option('digests', { type: 'boolean', default: false, describe: 'Show digests' })
    .option('filter', { alias: 'f', type: 'string', array: true, requiresArg: true, describe: `Filter output based on conditions provided (${IMAGES_FILTERS.join(', ')})` })
    .option('format', { type: 'string', requiresArg: true, describe: "Format output: 'table', 'table TEMPLATE', 'json' or a Go template" })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only show image IDs' }) as never,
  handler: (a) => {
    const filters = parseFilters(a.filter, IMAGES_FILTERS);
    const rows = imageRows(new ImageStore(), { all: a.all, repository: a.repository, filters, noTrunc: noTrunc(a) });
    // -q prints each image once, however many names it has.
    const shown = a.quiet ? rows.filter((r, i) => rows.findIndex((o) => o.ID === r.ID) === i) : rows;
    writeListing(shown, imagesListing(a.digests), { quiet: a.quiet, format: a.format });
  },
};
export default cmd;
