// `skiff volume create|ls|inspect|rm|prune`: Docker's named volumes (the
// "local" driver), kept under $SKIFF_ROOT/volumes and mounted with -v NAME:/path.
import type { Argv, CommandModule } from 'yargs';
import { createVolume, inspectVolume, pruneVolumes, removeVolume } from '../../volume/store.js';
import { SkiffError } from '../../util/errors.js';
import { parseFilters } from '../filters.js';
import { humanSize } from '../humanize.js';
import { writeListing } from '../listing.js';
import { compileGoTemplate } from '../template/index.js';
import { selectVolumes, VOLUME_FILTERS, VOLUME_LISTING, volumeRow } from '../volume-list.js';

function keyValues(list: string[] | undefined, flag: string): Record<string, string> {
  return Object.fromEntries((list ?? []).map((l) => {
    const i = l.indexOf('=');
    if (i === 0) throw new SkiffError(`invalid argument "${l}" for "${flag}" flag: invalid label`);
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
  }));
}

const create: CommandModule<object, { name?: string; label?: string[]; opt?: string[]; driver: string }> = {
  command: 'create [name]',
  describe: 'Create a volume',
  builder: (y) => y
    .positional('name', { type: 'string' })
    .option('label', { type: 'string', array: true, describe: 'Set metadata for a volume' })
    .option('driver', { alias: 'd', type: 'string', default: 'local', describe: 'Volume driver name (only local)' })
    .option('opt', { alias: 'o', type: 'string', array: true, describe: 'Driver options (recorded, not used)' }) as never,
  handler: (a) => {
    if (a.driver !== 'local') throw new SkiffError(`error looking up volume plugin ${a.driver}: plugin "${a.driver}" not found`);
    const v = createVolume(a.name === undefined ? undefined : String(a.name), { labels: keyValues(a.label, '--label'), options: keyValues(a.opt, '--opt') });
    process.stdout.write(`${v.Name}\n`);
  },
};

const ls: CommandModule<object, { quiet: boolean; format?: string; filter?: string[] }> = {
  command: 'ls',
  aliases: ['list'],
  describe: 'List volumes',
  builder: (y) => y
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only display volume names' })
    .option('filter', { alias: 'f', type: 'string', array: true, describe: 'Filter output (name=, label=, dangling=, driver=)' })
    .option('format', { type: 'string', requiresArg: true, describe: "Format output: 'table', 'table TEMPLATE', 'json' or a Go template" }) as never,
  handler: (a) => {
    const rows = selectVolumes(parseFilters(a.filter, VOLUME_FILTERS)).map(volumeRow);
    writeListing(rows, VOLUME_LISTING, { quiet: a.quiet, format: a.format });
  },
};

const inspect: CommandModule<object, { volumes: string[]; format?: string }> = {
  command: 'inspect <volumes..>',
  describe: 'Display detailed information on one or more volumes',
  builder: (y) => y
    .positional('volumes', { type: 'string', array: true, demandOption: true })
    .option('format', { alias: 'f', type: 'string', describe: 'Format output using a Go template' }) as never,
  handler: (a) => {
    const views: unknown[] = [];
    for (const n of a.volumes.map(String)) {
      try {
        views.push(inspectVolume(n));
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

const rm: CommandModule<object, { volumes: string[]; force: boolean }> = {
  command: 'rm <volumes..>',
  aliases: ['remove'],
  describe: 'Remove one or more volumes (refused while a container uses one)',
  builder: (y) => y
    .positional('volumes', { type: 'string', array: true, demandOption: true })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not fail on an unknown volume' }) as never,
  handler: (a) => {
    for (const n of a.volumes.map(String)) {
      try {
        removeVolume(n, a.force);
        process.stdout.write(`${n}\n`);
      } catch (e) {
        process.stderr.write(`skiff: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    }
  },
};

const prune: CommandModule<object, { force: boolean; filter?: string[] }> = {
  command: 'prune',
  describe: 'Remove all volumes no container uses',
  builder: (y) => y
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not prompt for confirmation' })
    .option('filter', { type: 'string', array: true, describe: 'Only volumes matching (label=)' }) as never,
  handler: async (a) => {
    const filters = parseFilters(a.filter, ['label']);
    if (!a.force) {
      process.stdout.write('WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ');
      const answer = await new Promise<string>((resolve) => {
        process.stdin.once('data', (d) => resolve(d.toString()));
        process.stdin.once('end', () => resolve(''));
      });
      process.stdin.pause();
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const wanted = new Set(selectVolumes(filters).map((v) => v.Name));
    const r = pruneVolumes((v) => wanted.has(v.Name));
    if (r.deleted.length) process.stdout.write(`Deleted Volumes:\n${r.deleted.map((n) => `${n}\n`).join('')}\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
  },
};

const cmd: CommandModule = {
  command: 'volume <command>',
  describe: 'Manage volumes',
  builder: (y: Argv) => y.command(create).command(ls).command(inspect).command(rm).command(prune).demandCommand(1, 'volume needs a subcommand') as never,
  handler: () => {},
};
export default cmd;
