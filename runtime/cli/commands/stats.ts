// `skiff stats [CONTAINER...]`: a live view of what the kernel counts for
// each running container (container/stats.ts), as `docker stats` prints it.
import type { CommandModule } from 'yargs';
import { findLive, refresh } from '../../container/lifecycle.js';
import type { ContainerRecord } from '../../container/model.js';
import { sample, statsBetween, type Sample } from '../../container/stats.js';
import * as store from '../../container/store.js';
import { humanSize } from '../humanize.js';
import { noTrunc, noTruncOption, renderListing, type ListingSpec, type Row } from '../listing.js';
import { printOut } from '../output.js';

interface Args { containers?: string[]; all: boolean; 'no-stream'?: boolean; stream?: boolean; format?: string; 'no-trunc': boolean; trunc?: boolean }

const STATS_LISTING: ListingSpec = {
  table: '{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
  headers: {
    ID: 'CONTAINER ID', Name: 'NAME', Container: 'CONTAINER', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
    NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
  },
};

/** Go's units.BytesSize: binary units, 4 significant digits ("1.535MiB"). */
export function bytesSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

const percent = (x: number) => `${x.toFixed(2)}%`;

const cmd: CommandModule<object, Args> = {
  command: 'stats [containers..]',
  describe: 'Display a live stream of container(s) resource usage statistics',
  builder: (y) => noTruncOption(y)
    .positional('containers', { type: 'string', array: true })
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Show all containers (default shows just running)' })
    .option('no-stream', { type: 'boolean', default: false, describe: 'Disable streaming stats and only pull the first result' })
    // yargs reads --no-stream as "stream is false" (see noTruncOption).
    .option('stream', { type: 'boolean', hidden: true })
    .option('format', { type: 'string', requiresArg: true, describe: "Format output: 'table', 'table TEMPLATE', 'json' or a Go template" }) as never,
  handler: async (a) => {
    const named = a.containers ?? [];
    type Shown = Array<{ rec: ContainerRecord; as: string }>;
    // Looked up once a second: containers come and go (without names) and change state.
    const chosen = (): Shown => named.length
      ? named.map((n) => ({ rec: findLive(n), as: n }))
      : store.list().map(refresh).filter((r) => a.all || r.State.Running).map((rec) => ({ rec, as: rec.Id.slice(0, 12) }));
    const take = (shown: Shown) => {
      const now = new Map<string, Sample>();
      for (const { rec } of shown) {
        if (!rec.State.Running) continue;
        try {
          now.set(rec.Id, sample(rec));
        } catch {
          // stopped meanwhile
        }
      }
      return now;
    };
    const render = (shown: Shown, before: Map<string, Sample>, now: Map<string, Sample>) => {
      const rows: Row[] = shown.map(({ rec, as }) => {
        const s = now.get(rec.Id); // none for a stopped container: zeros, as in Docker
        const st = s ? statsBetween(before.get(rec.Id), s) : undefined;
        return {
          ID: noTrunc(a) ? rec.Id : rec.Id.slice(0, 12), Name: rec.Name.replace(/^\//, ''), Container: as,
          CPUPerc: st ? percent(st.cpuPercent) : '0.00%',
          MemUsage: st ? `${bytesSize(st.memUsage)} / ${bytesSize(st.memLimit)}` : '0B / 0B',
          MemPerc: st ? percent(st.memPercent) : '0.00%',
          NetIO: st ? `${humanSize(st.net.rx)} / ${humanSize(st.net.tx)}` : '0B / 0B',
          BlockIO: st ? `${humanSize(st.block.read)} / ${humanSize(st.block.write)}` : '0B / 0B',
          PIDs: st ? String(st.pids) : '0',
        };
      });
      return renderListing(rows, STATS_LISTING, { format: a.format });
    };
    // A name that matches nothing fails here, before the first sample.
    let before = take(chosen());
    const tty = process.stdout.isTTY;
    for (;;) {
      // Docker's figures are over the second between two samples.
      await new Promise((r) => setTimeout(r, 1000));
      const shown = chosen();
      const now = take(shown);
      const text = render(shown, before, now);
      before = now;
      if (a['no-stream'] || a.stream === false) return printOut(text);
      // On a terminal the table is redrawn in place; elsewhere each second is appended.
      printOut(tty ? `\x1b[2J\x1b[H${text}` : text);
    }
  },
};
export default cmd;
