import type { CommandModule } from 'yargs';
import { refresh } from '../../container/lifecycle.js';
import type { ContainerRecord } from '../../container/model.js';
import * as store from '../../container/store.js';
import { namesOf, portsSummary } from '../../network/index.js';
import { ago, humanDuration } from '../humanize.js';
import { writeListing } from '../listing.js';

interface Args { all: boolean; latest: boolean; quiet: boolean; 'no-trunc': boolean; format?: string }

const ellipsis = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function statusOf(c: ContainerRecord, now = Date.now()): string {
  const s = c.State;
  if (s.Running) return `Up ${humanDuration(now - new Date(s.StartedAt).getTime())}${s.Paused ? ' (Paused)' : ''}`;
  if (s.Status === 'created') return 'Created';
  return `Exited (${s.ExitCode}) ${ago(s.FinishedAt, now)}`;
}

/** `all` lets NAMES show link names too ("db,web/db"), as in Docker. */
export function psRow(c: ContainerRecord, noTrunc: boolean, all: ContainerRecord[] = []) {
  const command = [c.Path, ...c.Args].join(' ');
  return {
    ID: noTrunc ? c.Id : c.Id.slice(0, 12),
    Image: c.Config.Image,
    Command: `"${noTrunc ? command : ellipsis(command, 20)}"`,
    CreatedAt: c.Created,
    RunningFor: ago(c.Created),
    Status: statusOf(c),
    State: c.State.Status,
    Ports: portsSummary(c),
    Names: namesOf(c, all).join(','),
  };
}

const cmd: CommandModule<object, Args> = {
  command: 'ps',
  describe: 'List containers',
  builder: (y) => y
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Show all containers (default shows just running)' })
    .option('latest', { alias: 'l', type: 'boolean', default: false, describe: 'Show the latest created container (includes all states)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only display container IDs' })
    .option('no-trunc', { type: 'boolean', default: false, describe: "Don't truncate output" })
    .option('format', { type: 'string', describe: 'Format output using a Go template' }) as never,
  handler: (a) => {
    const all = store.list().map(refresh).filter((c) => c.State.Status !== 'removing');
    let list = [...all].sort((x, y) => y.Created.localeCompare(x.Created));
    if (a.latest) list = list.slice(0, 1);
    else if (!a.all) list = list.filter((c) => c.State.Running);
    const rows = list.map((c) => psRow(c, a['no-trunc'], all));
    writeListing(rows, {
      quiet: a.quiet, format: a.format,
      columns: [['CONTAINER ID', 'ID'], ['IMAGE', 'Image'], ['COMMAND', 'Command'], ['CREATED', 'RunningFor'], ['STATUS', 'Status'], ['PORTS', 'Ports'], ['NAMES', 'Names']],
    });
  },
};
export default cmd;
