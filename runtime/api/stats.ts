// GET /containers/{id}/stats: `docker stats` through the Engine API, over
// container/stats.ts. The client computes CPU % from cpu_stats and
// precpu_stats, so each object carries the sample before it: with stream
// (the default) one object a second, without it one object after a second
// (Docker waits for that first pair too), with one-shot at once.
import { availableParallelism, totalmem } from 'node:os';
import { refresh } from '../container/lifecycle.js';
import type { ContainerRecord } from '../container/model.js';
import { sample, type Sample } from '../container/stats.js';
import { find } from './containers.js';
import { boolParam, sendJson, type Ctx, type Router } from './router.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

function cpuStats(s: Sample | undefined) {
  return {
    cpu_usage: { total_usage: s?.cpuNs ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: s?.systemNs ?? 0, online_cpus: s ? availableParallelism() : 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** Docker's StatsJSON from two samples (the memory usage is already without the inactive page cache). */
function statsJson(rec: ContainerRecord, before: { at: Date; s: Sample } | undefined, now: { at: Date; s: Sample } | undefined) {
  const s = now?.s;
  return {
    read: now?.at.toISOString() ?? ZERO_TIME, preread: before?.at.toISOString() ?? ZERO_TIME,
    id: rec.Id, name: rec.Name,
    pids_stats: s?.pids !== undefined ? { current: s.pids } : {},
    blkio_stats: {
      io_service_bytes_recursive: s ? [{ major: 0, minor: 0, op: 'read', value: s.block.read }, { major: 0, minor: 0, op: 'write', value: s.block.write }] : null,
    },
    num_procs: 0, storage_stats: {},
    cpu_stats: cpuStats(s), precpu_stats: cpuStats(before?.s),
    // No limit: the machine's memory, as Docker reports it.
    memory_stats: s?.memory ? { usage: s.memory.usage, limit: s.memory.limit ?? totalmem(), stats: {} } : {},
    ...(s ? { networks: { eth0: { rx_bytes: s.net.rx, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: s.net.tx, tx_packets: 0, tx_errors: 0, tx_dropped: 0 } } } : {}),
  };
}

const take = (rec: ContainerRecord) => ({ at: new Date(), s: sample(rec) });
const second = () => new Promise((r) => setTimeout(r, 1000));

async function stats(c: Ctx): Promise<void> {
  const rec = refresh(find(c.params.id));
  const stream = boolParam(c.query, 'stream', true);
  if (!rec.State.Running) return sendJson(c.res, 200, statsJson(rec, undefined, undefined));
  if (!stream) {
    if (boolParam(c.query, 'one-shot')) return sendJson(c.res, 200, statsJson(rec, undefined, take(rec)));
    const before = take(rec);
    await second();
    return sendJson(c.res, 200, statsJson(rec, before, take(rec)));
  }
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  let gone = false;
  c.res.once('close', () => (gone = true));
  let before: { at: Date; s: Sample } | undefined;
  while (!gone) {
    let now;
    try {
      const cur = refresh(find(rec.Id));
      if (!cur.State.Running) break;
      now = take(cur);
    } catch {
      break; // removed meanwhile
    }
    c.res.write(`${JSON.stringify(statsJson(rec, before, now))}\n`);
    before = now;
    await second();
  }
  c.res.end();
}

export function statsRoutes(r: Router): void {
  r.on('GET', '/containers/{id}/stats', stats);
}
