import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { NoSuchContainer } from '../../container/store.js';
import { ImageStore } from '../../image/store.js';
import { SkiffError } from '../../util/errors.js';
import { compileGoTemplate } from '../template/index.js';
import { containerView, imageView } from '../inspect-view.js';
import { printOut } from '../output.js';

interface Args { names: string[]; format?: string; type?: string }

const cmd: CommandModule<object, Args> = {
  command: 'inspect <names..>',
  describe: 'Return low-level information on containers or images',
  builder: (y) => y
    .positional('names', { type: 'string', array: true, demandOption: true })
    .option('format', { alias: 'f', type: 'string', describe: 'Format output using a Go template' })
    .option('type', { type: 'string', choices: ['container', 'image'], describe: 'Only look at this kind of object' }) as never,
  handler: (a) => {
    const images = new ImageStore();
    const views: unknown[] = [];
    let failed = false;
    for (const name of a.names) {
      try {
        if (a.type !== 'image') {
          try {
            views.push(containerView(findLive(name)));
            continue;
          } catch (e) {
            // Only "no such container" makes it an image's name: any other
            // failure (an ambiguous prefix, an unreadable record) is reported.
            if (a.type === 'container' || !(e instanceof NoSuchContainer)) throw e;
          }
        }
        const img = images.lookup(name);
        if (!img) throw new SkiffError(`No such object: ${name}`, 1);
        views.push(imageView(images, img));
      } catch (e) {
        process.stderr.write(`skiff: ${(e as Error).message}\n`);
        failed = true;
      }
    }
    if (a.format) {
      const t = compileGoTemplate(a.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      printOut(views.map((v) => `${t.execute(v)}\n`).join(''));
    } else {
      printOut(`${JSON.stringify(views, null, 4)}\n`);
    }
    if (failed) process.exitCode = 1;
  },
};
export default cmd;
