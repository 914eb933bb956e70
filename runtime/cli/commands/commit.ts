import type { CommandModule } from 'yargs';
import { commitContainer } from '../../build/commit.js';
import { ImageStore } from '../../image/store.js';

interface Args { container: string; repository?: string; message?: string; author?: string; change?: string[]; pause: boolean }

const cmd: CommandModule<object, Args> = {
  command: 'commit <container> [repository]',
  describe: "Create a new image from a container's changes",
  builder: (y) => y
    .positional('container', { type: 'string', demandOption: true })
    .positional('repository', { type: 'string', describe: 'REPOSITORY[:TAG] for the new image' })
    .option('message', { alias: 'm', type: 'string', describe: 'Commit message' })
    .option('author', { alias: 'a', type: 'string', describe: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' })
    .option('change', { alias: 'c', type: 'string', array: true, describe: 'Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR, USER, LABEL)' })
    .option('pause', { alias: 'p', type: 'boolean', default: true, describe: 'Pause container during commit' }) as never,
  handler: async (a) => {
    const id = await commitContainer(new ImageStore(), a.container, {
      reference: a.repository, message: a.message, author: a.author, changes: a.change, pause: a.pause,
    });
    process.stdout.write(`${id}\n`);
  },
};
export default cmd;
