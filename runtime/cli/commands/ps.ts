import type { CommandModule } from 'yargs';
import { refresh } from '../../container/lifecycle.js';
import * as store from '../../container/store.js';
import { ImageStore } from '../../image/store.js';
import { PS_FILTERS, PS_LISTING, psRow, selectContainers } from '../container-list.js';
import { parseFilters } from '../filters.js';
import { noTrunc, noTruncOption, writeListing } from '../listing.js';

interface Args { all: boolean; latest: boolean; last: number; quiet: boolean; size: boolean; 'no-trunc': boolean; trunc?: boolean; format?: string; filter?: string[] }

const cmd: CommandModule<object, Args> = {
  command: 'ps',
  describe: 'List containers',
  builder: (y) => noTruncOption(y)
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Show all containers (default shows just running)' })
    .option('filter', { alias: 'f', type: 'string', array: true, requiresArg: true, describe: `Filter output based on conditions provided (${PS_FILTERS.join(', ')})` })
    .option('format', { type: 'string', requiresArg: true, describe: "Format output: 'table', 'table TEMPLATE', 'json' or a Go template" })
    .option('last', { alias: 'n', type: 'number', default: -1, requiresArg: true, describe: 'Show n last created containers (includes all states)' })
    .option('latest', { alias: 'l', type: 'boolean', default: false, describe: 'Show the latest created container (includes all states)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only display container IDs' })
    .option('size', { alias: 's', type: 'boolean', default: false, describe: 'Display total file sizes' }) as never,
  handler: (a) => {
    const filters = parseFilters(a.filter, PS_FILTERS);
    const images = new ImageStore();
    const all = store.list().map(refresh);
    const last = a.latest ? 1 : Number.isInteger(a.last) ? a.last : -1;
    const list = selectContainers(all, { all: a.all, last, filters }, images);
    // Sizes cost a walk of each writable layer: only with -s, or when the template asks for .Size (as docker does).
    const size = a.size || /\.Size\b/.test(a.format ?? '');
    const rows = list.map((c) => psRow(c, { noTrunc: noTrunc(a), all, size, images }));
    const spec = a.size ? { ...PS_LISTING, table: `${PS_LISTING.table}\t{{.Size}}` } : PS_LISTING;
    writeListing(rows, spec, { quiet: a.quiet, format: a.format });
  },
};
export default cmd;
