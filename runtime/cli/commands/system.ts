import type { CommandModule } from 'yargs';
import { DEFAULT_HOST, serve, socketPath } from '../../api/server.js';

interface Args { host: string; timeout: number }

const service: CommandModule<object, Args> = {
  command: 'service',
  describe: 'Serve the Docker Engine API, so that the docker CLI and docker-py drive skiff',
  builder: (y) => y
    .option('host', { alias: 'H', type: 'string', default: DEFAULT_HOST, describe: 'Socket to listen on (unix:///PATH)' })
    .option('timeout', { alias: 't', type: 'number', default: 0, describe: 'Seconds without a client before the service exits (0: never)' }) as never,
  handler: async (a) => {
    await serve({ host: a.host, idleTimeout: a.timeout, log: (l) => process.stderr.write(`skiff service: ${l}\n`) });
    process.stderr.write(`skiff service: listening on unix://${socketPath(a.host)} (Docker Engine API 1.24-1.44)\n`);
    await new Promise(() => {}); // until SIGTERM/SIGINT
  },
};

const cmd: CommandModule = {
  command: 'system <command>',
  describe: 'Manage skiff (service: the Docker Engine API)',
  builder: (y) => y.command(service).demandCommand(1, 'a subcommand is required') as never,
  handler: () => {},
};
export default cmd;
