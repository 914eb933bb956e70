// skiff-runc list [--format table|json] [--quiet]: runc's table, or its JSON array (null when empty).
import { readdirSync } from 'node:fs';
import { load, statusOf } from '../state.js';
import { parseArgs, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { flags } = parseArgs(argv, ['format'], ['quiet'], { f: 'format', q: 'quiet' });
  let ids: string[] = [];
  try {
    ids = readdirSync(g.root).sort();
  } catch {
    // no root yet: nothing to list
  }
  const rows = ids.flatMap((id) => {
    try {
      const s = load(g.root, id);
      const status = statusOf(g.root, s);
      return [{ s, status }];
    } catch {
      return [];
    }
  });
  if (flags.quiet) {
    for (const r of rows) process.stdout.write(`${r.s.id}\n`);
    return 0;
  }
  if (flags.format === 'json') {
    const out = rows.map(({ s, status }) => ({
      ociVersion: '1.2.0', id: s.id, pid: status === 'stopped' ? 0 : s.pid, status, bundle: s.bundle, rootfs: s.rootfs,
      created: s.created, annotations: s.annotations, owner: 'root',
    }));
    process.stdout.write(`${JSON.stringify(out.length ? out : null)}\n`);
    return 0;
  }
  const table = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...rows.map(({ s, status }) => [s.id, String(status === 'stopped' ? 0 : s.pid), status, s.bundle, s.created, 'root'])];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table) process.stdout.write(`${r.map((c, i) => (i < r.length - 1 ? c.padEnd(Math.max(widths[i], 10) + 2) : c)).join('')}\n`);
  return 0;
};
export default verb;
