import type { CommandModule } from 'yargs';
import { ImageStore } from '../../image/store.js';
import { ago, humanSize } from '../humanize.js';
import { table } from '../table.js';

interface Args { image: string; 'no-trunc': boolean; quiet: boolean; human: boolean }

const ellipsis = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const cmd: CommandModule<object, Args> = {
  command: 'history <image>',
  describe: 'Show the history of an image',
  builder: (y) => y
    .positional('image', { type: 'string', demandOption: true })
    .option('no-trunc', { type: 'boolean', default: false, describe: "Don't truncate output" })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only show image IDs' })
    .option('human', { alias: 'H', type: 'boolean', default: true, describe: 'Print sizes and dates in human readable format' }) as never,
  handler: (a) => {
    const store = new ImageStore();
    const img = store.resolve(a.image);
    const diffIds = [...img.config.rootfs.diff_ids];
    const history = img.config.history?.length ? img.config.history : diffIds.map(() => ({}) as NonNullable<typeof img.config.history>[number]);
    // Each non-empty history entry owns the next layer, in order.
    let layer = 0;
    const rows = history.map((h) => {
      const size = h.empty_layer ? 0 : store.layerSize(diffIds[layer++] ?? '');
      return { created: h.created ?? '', createdBy: h.created_by ?? '', size, comment: h.comment ?? '' };
    }).reverse();
    const id = a['no-trunc'] ? img.id : img.id.slice(7, 19);
    if (a.quiet) {
      process.stdout.write(`${id}\n${rows.slice(1).map(() => '<missing>\n').join('')}`);
      return;
    }
    process.stdout.write(table([
      ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
      ...rows.map((r, i) => [
        i === 0 ? id : '<missing>',
        r.created ? (a.human ? ago(r.created) : r.created) : '',
        a['no-trunc'] ? r.createdBy : ellipsis(r.createdBy.replace(/\s+/g, ' '), 45),
        a.human ? humanSize(r.size) : String(r.size),
        r.comment,
      ]),
    ]));
  },
};
export default cmd;
