import type { CommandModule } from 'yargs';
import { authKey, logout } from '../../registry/auth.js';
import { parseServer } from '../../registry/reference.js';

const cmd: CommandModule<object, { server?: string }> = {
  command: 'logout [server]',
  describe: 'Log out from a registry',
  builder: (y) => y.positional('server', { type: 'string', describe: 'Registry (default: the default registry)' }) as never,
  handler: (a) => {
    const server = parseServer(a.server);
    if (logout(server)) process.stdout.write(`Removing login credentials for ${authKey(server)}\n`);
    else process.stdout.write(`Not logged in to ${authKey(server)}\n`);
  },
};
export default cmd;
