import type { CommandModule } from 'yargs';
import { DEFAULT_HOST, serve, socketPath } from '../../api/server.js';
import { diskUsage } from '../disk-usage.js';
import { humanSize } from '../humanize.js';
import { table } from '../table.js';

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
