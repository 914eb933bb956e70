// `skiff network create|ls|inspect|rm|prune|connect|disconnect`: Docker's
// management command for networks. bridge (a Linux bridge, skiff0 unless
// configured), host and none are predefined; `create` makes user-defined
// bridge networks (runtime/network/user.ts), each with its own bridge,
// subnet and nftables table, whose members know each other by name.
import type { Argv, CommandModule } from 'yargs';
import { inspectNetwork, pruneUnused } from '../../network/manage.js';
import { connectNetwork, disconnectNetwork } from '../../network/index.js';
import { createNetwork, removeNetwork } from '../../network/user.js';
import { SkiffError } from '../../util/errors.js';
import { parseFilters } from '../filters.js';
import { compileGoTemplate } from '../template/index.js';
import { noTrunc, noTruncOption, writeListing } from '../listing.js';
import { NETWORK_FILTERS, NETWORK_LISTING, networkRow, selectNetworks } from '../network-list.js';

function keyValues(list: string[] | undefined, flag: string): Record<string, string> {
  return Object.fromEntries((list ?? []).map((l) => {
    const i = l.indexOf('=');
    if (i === 0) throw new SkiffError(`invalid argument "${l}" for "${flag}" flag: invalid key=value`);
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
  }));
}

async function confirm(text: string): Promise<boolean> {
  process.stdout.write(`${text}\nAre you sure you want to continue? [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    process.stdin.once('data', (d) => resolve(d.toString()));
    process.stdin.once('end', () => resolve(''));
  });
  process.stdin.pause();
  return /^y(es)?$/i.test(answer.trim());
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v);

interface CreateArgs {
  name: string; driver: string; subnet?: string | string[]; gateway?: string | string[]; 'ip-range'?: string;
  internal: boolean; attachable: boolean; label?: string[]; opt?: string[]; ipv6: boolean;
}
const create: CommandModule<object, CreateArgs> = {
  command: 'create <name>',
  describe: 'Create a network (a bridge of its own, with its own subnet)',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true })
    .option('driver', { alias: 'd', type: 'string', default: 'bridge', describe: 'Driver to manage the Network (only bridge)' })
    .option('subnet', { type: 'string', describe: 'Subnet in CIDR format (default: the next free one of config "network-pool", 10.100.0.0/16 in /24s)' })
    .option('gateway', { type: 'string', describe: 'IPv4 Gateway for the subnet (default: its first address)' })
    .option('ip-range', { type: 'string', describe: 'Allocate container ip from a sub-range (not supported)' })
    .option('internal', { type: 'boolean', default: false, describe: 'Restrict external access to the network' })
    .option('attachable', { type: 'boolean', default: false, describe: 'Enable manual container attachment (always possible here)' })
    .option('ipv6', { type: 'boolean', default: false, describe: 'Enable IPv6 networking (not supported)' })
    .option('label', { type: 'string', array: true, describe: 'Set metadata on a network' })
    .option('opt', { alias: 'o', type: 'string', array: true, describe: 'Set driver specific options (com.docker.network.bridge.name=NAME)' }) as never,
  handler: (a) => {
    if (a['ip-range']) throw new SkiffError('--ip-range is not supported: containers get addresses from the whole subnet');
    if (a.ipv6) throw new SkiffError('--ipv6 is not supported: skiff networks are IPv4 only');
    if (Array.isArray(a.subnet) && a.subnet.length > 1) throw new SkiffError('skiff networks have one IPv4 subnet: give --subnet once');
    const n = createNetwork(String(a.name), {
      driver: a.driver, subnet: one(a.subnet), gateway: one(a.gateway), internal: a.internal, attachable: a.attachable,
      labels: keyValues(a.label, '--label'), options: keyValues(a.opt, '--opt'),
    });
    process.stdout.write(`${n.Id}\n`);
  },
};

const ls: CommandModule<object, { quiet: boolean; 'no-trunc': boolean; trunc?: boolean; format?: string; filter?: string[] }> = {
  command: 'ls',
  aliases: ['list'],
  describe: 'List networks',
  builder: (y) => noTruncOption(y)
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only display network IDs' })
    .option('filter', { alias: 'f', type: 'string', array: true, describe: 'Provide filter values (e.g. "driver=bridge", "name=", "label=", "type=custom|builtin", "dangling=true")' })
    .option('format', { type: 'string', requiresArg: true, describe: "Format output: 'table', 'table TEMPLATE', 'json' or a Go template" }) as never,
  handler: (a) => {
    // Sorted by name, as the docker CLI does (natural order).
    const rows = selectNetworks(parseFilters(a.filter, NETWORK_FILTERS)).sort((x, y) => x.Name.localeCompare(y.Name, 'en', { numeric: true }))
      .map((n) => networkRow(n, noTrunc(a)));
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
    for (const n of a.networks.map(String)) {
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

const rm: CommandModule<object, { networks: string[]; force: boolean }> = {
  command: 'rm <networks..>',
  aliases: ['remove'],
  describe: 'Remove one or more networks (refused while a running container is on one)',
  builder: (y) => y
    .positional('networks', { type: 'string', array: true, demandOption: true })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not error if the network does not exist' }) as never,
  handler: (a) => {
    for (const ref of a.networks.map(String)) {
      try {
        removeNetwork(ref);
        process.stdout.write(`${ref}\n`);
      } catch (e) {
        if (a.force && /not found$/.test((e as Error).message)) continue;
        process.stderr.write(`skiff: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    }
  },
};

const prune: CommandModule<object, { force: boolean; filter?: string[] }> = {
  command: 'prune',
  describe: 'Remove all unused user-defined networks, and the default bridge (its interface, nftables table and address pool) when unused',
  builder: (y) => y
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not prompt for confirmation' })
    .option('filter', { type: 'string', array: true, describe: 'Only networks matching (label=)' }) as never,
  handler: async (a) => {
    const filters = parseFilters(a.filter, ['label']);
    if (!a.force && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.'))) return;
    const wanted = new Set(selectNetworks(filters).map((n) => n.Id));
    const { removed, bridge: r } = pruneUnused(wanted, filters.size > 0);
    if (r?.removed) removed.unshift(r.bridge);
    if (removed.length) process.stdout.write(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join('')}`);
    if (r && !r.removed && r.inUse.length) process.stderr.write(`bridge ${r.bridge} is in use by ${r.inUse.join(', ')}; not removed\n`);
  },
};

const connect: CommandModule<object, { network: string; container: string; alias?: string[]; ip?: string }> = {
  command: 'connect <network> <container>',
  describe: 'Connect a container to a network (a running one gets a new interface, eth1...)',
  builder: (y) => y
    .positional('network', { type: 'string', demandOption: true })
    .positional('container', { type: 'string', demandOption: true })
    .option('alias', { type: 'string', array: true, describe: 'Add network-scoped alias for the container' })
    .option('ip', { type: 'string', describe: 'IPv4 address (e.g., 172.30.100.104)' }) as never,
  handler: async (a) => {
    await connectNetwork(String(a.network), String(a.container), { aliases: a.alias?.map(String), ip: a.ip });
  },
};

const disconnect: CommandModule<object, { network: string; container: string; force: boolean }> = {
  command: 'disconnect <network> <container>',
  describe: 'Disconnect a container from a network',
  builder: (y) => y
    .positional('network', { type: 'string', demandOption: true })
    .positional('container', { type: 'string', demandOption: true })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Force the container to disconnect from a network' }) as never,
  handler: (a) => {
    disconnectNetwork(String(a.network), String(a.container), a.force);
  },
};

const cmd: CommandModule = {
  command: 'network <command>',
  describe: 'Manage networks',
  builder: (y: Argv) => y.command(create).command(connect).command(disconnect).command(inspect).command(ls).command(prune).command(rm)
    .demandCommand(1, 'network needs a subcommand') as never,
  handler: () => {},
};
export default cmd;
