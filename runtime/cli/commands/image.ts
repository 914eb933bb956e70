// `skiff image SUBCOMMAND`: Docker's management-command spelling of the image verbs.
import type { Argv, CommandModule } from 'yargs';
import { pruneImages } from '../../image/remove.js';
import { ImageStore } from '../../image/store.js';
import { humanSize } from '../humanize.js';
import history from './history.js';
import images from './images.js';
import inspect from './inspect.js';
import load from './load.js';
import rmi from './rmi.js';
import save from './save.js';
import tag from './tag.js';

const renamed = <T>(m: CommandModule<object, T>, command: string): CommandModule<object, T> => ({ ...m, command });

const prune: CommandModule<object, { all: boolean; force: boolean }> = {
  command: 'prune',
  describe: 'Remove unused images (dangling ones; with -a, all that no container uses)',
  builder: (y) => y
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Remove all unused images, not just dangling ones' })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not prompt for confirmation' }) as never,
  handler: async (a) => {
    if (!a.force) {
      process.stdout.write(`WARNING! This will remove all ${a.all ? 'images without at least one container associated to them' : 'dangling images'}.\nAre you sure you want to continue? [y/N] `);
      const answer = await new Promise<string>((resolve) => {
        process.stdin.once('data', (d) => resolve(d.toString()));
        process.stdin.once('end', () => resolve(''));
      });
      process.stdin.pause();
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const r = pruneImages(new ImageStore(), a.all);
    if (r.deleted.length || r.untagged.length) {
      process.stdout.write('Deleted Images:\n');
      for (const n of r.untagged) process.stdout.write(`untagged: ${n}\n`);
      for (const d of r.deleted) process.stdout.write(`deleted: ${d}\n`);
      process.stdout.write('\n');
    }
    process.stdout.write(`Total reclaimed space: ${humanSize(r.bytes)}\n`);
  },
};

const cmd: CommandModule = {
  command: 'image <command>',
  describe: 'Manage images',
  builder: (y: Argv) => y
    .command(renamed(images, 'ls [repository]'))
    .command(renamed(rmi, 'rm <images..>'))
    .command(renamed(inspect, 'inspect <names..>'))
    .command(tag)
    .command(history)
    .command(save)
    .command(load)
    .command(prune)
    .demandCommand(1, 'image needs a subcommand') as never,
  handler: () => {},
};
export default cmd;
