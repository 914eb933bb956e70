// `skiff registry serve`: runs the OCI distribution registry in the
// foreground, logging one line per request to stderr, until SIGTERM or
// SIGINT; then it stops accepting, lets in-flight requests finish and exits 0.
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { skiffRoot } from '../../util/paths.js';

interface ServeArgs { addr: string; root?: string; htpasswd?: string; 'tls-cert'?: string; 'tls-key'?: string }

const serve: CommandModule<object, ServeArgs> = {
  command: 'serve [options]',
  describe: 'Serve an OCI distribution registry (Docker Registry HTTP API v2) in the foreground',
  builder: (y) => y
    .option('addr', { type: 'string', default: '127.0.0.1:5000', describe: 'HOST:PORT to listen on (port 0 picks a free port)' })
    .option('root', { type: 'string', describe: 'Storage directory (default $SKIFF_ROOT/registry, i.e. /var/lib/skiff/registry)' })
    .option('htpasswd', { type: 'string', describe: 'htpasswd file with bcrypt entries (htpasswd -B); enables Basic auth' })
    .option('tls-cert', { type: 'string', describe: 'PEM certificate; serve HTTPS (needs --tls-key)' })
    .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert' })
    .check((a) => {
      if (!!a['tls-cert'] !== !!a['tls-key']) throw new Error('--tls-cert and --tls-key must be given together');
      return true;
    }) as never,
  handler: async (a) => {
    // Loaded here, not at the top, so other verbs never pay for the server's code.
    const { startRegistry } = await import('../../registry/server.js');
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const registry = await startRegistry({
      addr: a.addr,
      root: a.root ?? join(skiffRoot(), 'registry'),
      htpasswd: a.htpasswd,
      tlsCert: a['tls-cert'],
      tlsKey: a['tls-key'],
      log,
    });
    log(`skiff registry listening on ${registry.url}`);

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    log(`skiff registry: ${signal}, finishing in-flight requests`);
    // A second signal means "now": leave without waiting.
    const again = () => process.exit(signal === 'SIGINT' ? 130 : 143);
    process.once('SIGTERM', again);
    process.once('SIGINT', again);
    await registry.close();
    log('skiff registry: stopped');
    process.exit(0);
  },
};

const cmd: CommandModule<object, object> = {
  command: 'registry',
  describe: 'Serve an OCI distribution registry',
  builder: (y: Argv) => y.command(serve).demandCommand(1, 'a subcommand is required: serve') as never,
  handler: () => undefined,
};
export default cmd;
