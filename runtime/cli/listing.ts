// How list commands (ps, network ls, …) print rows, as Docker does: IDs only
// with -q, a Go template per row with --format, else a table.
import { compileGoTemplate } from './template/index.js';
import { table } from './table.js';

export interface ListingOptions {
  quiet?: boolean;
  format?: string;
  /** Table columns: header and the row field it shows. */
  columns: Array<[string, string]>;
}

export function writeListing(rows: Array<Record<string, string>>, opts: ListingOptions): void {
  if (opts.quiet) {
    process.stdout.write(rows.map((r) => `${r.ID}\n`).join(''));
    return;
  }
  if (opts.format && !opts.format.startsWith('table')) {
    const t = compileGoTemplate(opts.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
    process.stdout.write(rows.map((r) => `${t.execute(r)}\n`).join(''));
    return;
  }
  process.stdout.write(table([opts.columns.map(([h]) => h), ...rows.map((r) => opts.columns.map(([, k]) => r[k] ?? ''))]));
}
