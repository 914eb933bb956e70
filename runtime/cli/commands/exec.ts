import type { CommandModule } from 'yargs';
import { execInContainer } from '../../container/exec.js';
import { explainFlag } from '../container-options.js';
import { getCommandWords } from '../split.js';

interface Args { container: string; interactive: boolean; tty: boolean; detach: boolean; env?: string[]; workdir?: string; user?: string }

const cmd: CommandModule<object, Args> = {
  command: 'exec <container> [command..]',
  describe: 'Execute a command in a running container',
  builder: (y) => explainFlag(y)
    .positional('container', { type: 'string', demandOption: true })
    .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'Keep STDIN open even if not attached' })
    .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'Allocate a pseudo-TTY' })
    .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'Detached mode: run command in the background' })
    .option('env', { alias: 'e', type: 'string', array: true, describe: 'Set environment variables' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory inside the container' })
    .option('user', { alias: 'u', type: 'string', describe: 'Username or UID (format: <name|uid>[:<group|gid>])' }) as never,
  handler: async (a) => {
    process.exitCode = await execInContainer(a.container, {
      cmd: getCommandWords(), interactive: a.interactive, tty: a.tty, detach: a.detach, env: a.env, workdir: a.workdir, user: a.user,
    });
  },
};
export default cmd;
