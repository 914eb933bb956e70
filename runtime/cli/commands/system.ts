import type { CommandModule } from 'yargs';
import { DEFAULT_HOST, parseHost, serve } from '../../api/server.js';
import { SkiffError } from '../../util/errors.js';
import { diskUsage } from '../disk-usage.js';
import { humanSize } from '../humanize.js';
import { table } from '../table.js';

interface Args { host: string; timeout: number; tlsverify?: boolean; tlscacert?: string; tlscert?: string; tlskey?: string }

const service: CommandModule<object, Args> = {
  command: 'service',
  describe: 'Serve the Docker Engine API, so that the docker CLI and docker-py drive skiff',
  builder: (y) => y
    .option('host', { alias: 'H', type: 'string', default: DEFAULT_HOST, describe: 'Where to listen: unix:///PATH, or tcp://HOST:PORT with --tlsverify' })
    .option('timeout', { alias: 't', type: 'number', default: 0, describe: 'Seconds without a client before the service exits (0: never)' })
    .option('tlsverify', { type: 'boolean', describe: 'Serve TLS and accept only clients with a certificate signed by --tlscacert (required for tcp://)' })
    .option('tlscacert', { type: 'string', describe: 'CA that signs the clients\' certificates (PEM)' })
    .option('tlscert', { type: 'string', describe: 'The service\'s certificate (PEM)' })
    .option('tlskey', { type: 'string', describe: 'The service\'s private key (PEM)' }) as never,
  handler: async (a) => {
    const given = [a.tlscacert, a.tlscert, a.tlskey];
    if (a.tlsverify && given.some((f) => !f)) throw new SkiffError('--tlsverify needs --tlscacert, --tlscert and --tlskey');
    if (!a.tlsverify && given.some((f) => f)) throw new SkiffError('--tlscacert, --tlscert and --tlskey need --tlsverify');
    const tls = a.tlsverify ? { ca: a.tlscacert!, cert: a.tlscert!, key: a.tlskey! } : undefined;
    await serve({ host: a.host, tls, idleTimeout: a.timeout, log: (l) => process.stderr.write(`skiff service: ${l}\n`) });
    const where = parseHost(a.host, tls);
    process.stderr.write(`skiff service: listening on ${'unix' in where ? `unix://${where.unix}` : `${a.host} (TLS, client certificates required)`} (Docker Engine API 1.24-1.44)\n`);
    await new Promise(() => {}); // until SIGTERM/SIGINT
  },
};

const df: CommandModule = {
  command: 'df',
  describe: 'Show disk usage: images, containers, local volumes and the build cache',
  handler: () => {
    const u = diskUsage();
    const row = (type: string, total: number, active: number, size: number, reclaimable: number) =>
      [type, String(total), String(active), humanSize(size), `${humanSize(reclaimable)}${size > 0 ? ` (${Math.round((reclaimable * 100) / size)}%)` : ''}`];
    // Docker's arithmetic: what images that containers use need, the rest of the layers could go.
    const used = u.Images.filter((i) => i.Containers > 0).reduce((n, i) => n + i.Size - i.SharedSize, 0);
    const stopped = u.Containers.filter((c) => c.State !== 'running' && c.State !== 'paused');
    const volumeSize = u.Volumes.reduce((n, v) => n + v.UsageData.Size, 0);
    const unique = u.BuildCache.filter((b) => !b.Shared);
    process.stdout.write(table([
      ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
      row('Images', u.Images.length, u.Images.filter((i) => i.Containers > 0).length, u.LayersSize, Math.max(0, u.LayersSize - used)),
      row('Containers', u.Containers.length, u.Containers.length - stopped.length, u.Containers.reduce((n, c) => n + c.SizeRw, 0), stopped.reduce((n, c) => n + c.SizeRw, 0)),
      row('Local Volumes', u.Volumes.length, u.Volumes.filter((v) => v.UsageData.RefCount > 0).length, volumeSize,
        u.Volumes.filter((v) => v.UsageData.RefCount === 0).reduce((n, v) => n + v.UsageData.Size, 0)),
      row('Build Cache', u.BuildCache.length, 0, unique.reduce((n, b) => n + b.Size, 0), unique.reduce((n, b) => n + b.Size, 0)),
    ]));
  },
};

const cmd: CommandModule = {
  command: 'system <command>',
  describe: 'Manage skiff (service: the Docker Engine API; df: disk usage)',
  builder: (y) => y.command(service).command(df).demandCommand(1, 'a subcommand is required') as never,
  handler: () => {},
};
export default cmd;
