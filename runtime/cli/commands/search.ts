import type { CommandModule } from 'yargs';
import { getCredentials } from '../../registry/auth.js';
import { RegistryClient, searchRegistry } from '../../registry/client.js';
import { defaultRegistry, splitTerm } from '../../registry/reference.js';
import { SkiffError } from '../../util/errors.js';
import { table } from '../table.js';

interface Args { term: string; limit: number; 'no-trunc': boolean }

const cmd: CommandModule<object, Args> = {
  command: 'search <term>',
  describe: 'Search a registry for images',
  builder: (y) => y
    .positional('term', { type: 'string', describe: '[REGISTRY/]TERM: a substring of repository names' })
    .option('limit', { type: 'number', default: 25, describe: 'Max number of search results' })
    .option('no-trunc', { type: 'boolean', default: false, describe: "Don't truncate output" }) as never,
  handler: async (a) => {
    if (!Number.isInteger(a.limit) || a.limit < 1 || a.limit > 100) throw new SkiffError(`limit ${a.limit} is outside the range of [1, 100]`);
    const { registry, term } = splitTerm(String(a.term));
    const client = new RegistryClient(registry, { credentials: getCredentials(registry) });
    try {
      const results = await searchRegistry(client, term, a.limit, registry !== defaultRegistry());
      const rows = results.map((r) => [
        r.name,
        a['no-trunc'] || r.description.length <= 45 ? r.description : `${r.description.slice(0, 42)}...`,
        String(r.stars),
        r.official ? '[OK]' : '',
      ]);
      process.stdout.write(table([['NAME', 'DESCRIPTION', 'STARS', 'OFFICIAL'], ...rows]));
    } finally {
      client.close();
    }
  },
};
export default cmd;

