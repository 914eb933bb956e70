// `skiff ns CONTAINER`: the container's seven namespaces against the host's.
import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { containerNamespaces } from '../../container/namespaces.js';
import { table } from '../table.js';

interface Args { container: string; format?: string }

const cmd: CommandModule<object, Args> = {
  command: 'ns <container>',
  describe: "Show a running container's namespaces next to the host's, and how to enter each",
  builder: (y) => y
    .positional('container', { type: 'string', demandOption: true, describe: 'Container name or ID' })
    .option('format', { type: 'string', describe: "'json' for one object per namespace" }) as never,
  handler: (a) => {
    const rows = containerNamespaces(findLive(a.container));
    if (a.format === 'json') {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    process.stdout.write(table([
      ['NAMESPACE', 'INSIDE', 'HOST', 'SHARED', 'ENTER WITH', 'WHAT IT ISOLATES'],
      ...rows.map((r) => [r.type, String(r.inside), String(r.host), r.shared ? 'yes' : 'no', r.nsenter, r.what]),
    ]));
  },
};
export default cmd;
