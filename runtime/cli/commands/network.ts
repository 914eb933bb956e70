// `skiff network ls|inspect|prune`: Docker's management command for networks.
// skiff has three: bridge (a Linux bridge, skiff0 unless configured), host and
// none. The bridge is created on first use; prune removes it when unused.
import type { Argv, CommandModule } from 'yargs';
import { inspectNetwork, NETWORKS, networkId, pruneBridge } from '../../network/manage.js';
import { compileGoTemplate } from '../template/index.js';
import { type ListingSpec, noTrunc, noTruncOption, writeListing } from '../listing.js';

const NETWORK_LISTING: ListingSpec = {
  table: '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
  headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS' },
};

const ls: CommandModule<object, { quiet: boolean; 'no-trunc': boolean; trunc?: boolean; format?: string }> = {
  command: 'ls',
  aliases: ['list'],
  describe: 'List networks',
  builder: (y) => noTruncOption(y)
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only display network IDs' })
    .option('format', { type: 'string', requiresArg: true, describe: "Format output: 'table', 'table TEMPLATE', 'json' or a Go template" }) as never,
  handler: (a) => {
    const rows = NETWORKS.map((n) => {
      const id = networkId(n.name);
      return { ID: noTrunc(a) ? id : id.slice(0, 12), Name: n.name, Driver: n.driver, Scope: 'local', IPv6: 'false', Internal: 'false', Labels: '' };
    });
    writeListing(rows, NETWORK_LISTING, { quiet: a.quiet, format: a.format });
  },
};

const inspect: CommandModule<object, { networks: string[]; format?: string }> = {
  command: 'inspect <networks..>',
  describe: 'Display detailed information on one or more networks',
  builder: (y) => y
    .positional('networks', { type: 'string', array: true, demandOption: true })
    .option('format', { alias: 'f', type: 'string', describe: 'Format output using a Go template' }) as never,
  handler: (a) => {
    const views: unknown[] = [];
    for (const n of a.networks) {
      try {
        views.push(inspectNetwork(n));
      } catch (e) {
        process.stderr.write(`skiff: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    }
    if (a.format) {
      const t = compileGoTemplate(a.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      process.stdout.write(views.map((v) => `${t.execute(v)}\n`).join(''));
    } else {
      process.stdout.write(`${JSON.stringify(views, null, 4)}\n`);
    }
  },
};

const prune: CommandModule<object, { force: boolean }> = {
  command: 'prune',
  describe: "Remove the bridge (its interface, nftables table and address pool) when no container uses it",
  builder: (y) => y.option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not prompt for confirmation' }) as never,
  handler: async (a) => {
    if (!a.force) {
      process.stdout.write('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
      const answer = await new Promise<string>((resolve) => {
        process.stdin.once('data', (d) => resolve(d.toString()));
        process.stdin.once('end', () => resolve(''));
      });
      process.stdin.pause();
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const r = pruneBridge();
    if (r.removed) process.stdout.write(`Deleted Networks:\n${r.bridge}\n`);
    else if (r.inUse.length) process.stderr.write(`bridge ${r.bridge} is in use by ${r.inUse.join(', ')}; not removed\n`);
  },
};

const cmd: CommandModule = {
  command: 'network <command>',
  describe: 'Manage networks',
  builder: (y: Argv) => y.command(ls).command(inspect).command(prune).demandCommand(1, 'network needs a subcommand') as never,
  handler: () => {},
};
export default cmd;
