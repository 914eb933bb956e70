import type { CommandModule } from 'yargs';
import { splitRepoTag } from '../../image/reference.js';
import { ImageStore } from '../../image/store.js';
import { ago, humanSize } from '../humanize.js';
import { table } from '../table.js';

interface Args { quiet: boolean; 'no-trunc': boolean; all: boolean; digests: boolean; repository?: string }

const cmd: CommandModule<object, Args> = {
  command: 'images [repository]',
  describe: 'List images',
  builder: (y) => y
    .positional('repository', { type: 'string', describe: 'Only images of this repository (name[:tag])' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only show image IDs' })
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Show all images (default hides intermediate images)' })
    .option('digests', { type: 'boolean', default: false, describe: 'Show digests' })
    .option('no-trunc', { type: 'boolean', default: false, describe: "Don't truncate output" }) as never,
  handler: (a) => {
    const store = new ImageStore();
    const rows: string[][] = [];
    const intermediate = a.all ? new Set<string>() : store.buildCacheIds();
    const images = store.list()
      .filter((img) => img.repoTags.length > 0 || !intermediate.has(img.id))
      .sort((x, y) => store.created(y).getTime() - store.created(x).getTime());
    for (const img of images) {
      const id = a['no-trunc'] ? img.id : img.id.slice(7, 19);
      const names = img.repoTags.length ? img.repoTags.map(splitRepoTag) : [{ repository: '<none>', tag: '<none>' }];
      for (const n of names) {
        if (a.repository && n.repository !== a.repository && `${n.repository}:${n.tag}` !== a.repository) continue;
        const digest = img.repoDigests.find((d) => d.startsWith(`${n.repository}@`))?.split('@')[1] ?? '<none>';
        rows.push([n.repository, n.tag, ...(a.digests ? [digest] : []), id, ago(store.created(img).toISOString()), humanSize(store.size(img))]);
      }
    }
    if (a.quiet) {
      const col = a.digests ? 3 : 2;
      process.stdout.write([...new Set(rows.map((r) => r[col]))].map((id) => `${id}\n`).join(''));
      return;
    }
    process.stdout.write(table([['REPOSITORY', 'TAG', ...(a.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'], ...rows]));
  },
};
export default cmd;
