// How list commands (ps, images, history, network ls) print rows, as docker/cli's
// formatter does: IDs only with -q; else --format, which is `table` (Docker's
// default columns), `table TEMPLATE` (a header row, then aligned rows), `json`
// (one JSON object per row, keys sorted) or a Go template printed once per row.
// `\t` and `\n` written literally in the format become a tab and a newline.
import type { Argv } from 'yargs';
import { SkiffError } from '../util/errors.js';
import { compileGoTemplate, DOCKER_HEADER_FUNCS, TemplateError } from './template/index.js';
import { printOut } from './output.js';
import { tabwrite } from './table.js';

/** A row: the fields a template sees ({{.ID}}, {{.Names}}, ...). Functions are Go methods ({{.Label "k"}}). */
export type Row = Record<string, unknown>;

export interface ListingSpec {
  /** Docker's default table template, without the `table ` prefix. */
  table: string;
  /** Column headers by field, as Docker's header contexts name them. */
  headers: Record<string, string>;
  /** What -q prints (default ID). */
  quietField?: string;
}

export interface ListingOptions {
  quiet?: boolean;
  format?: string;
}

const unescape = (s: string) => s.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

/** The listing as text. A bad template is a SkiffError (exit 125) worded like Docker's. */
export function renderListing(rows: Row[], spec: ListingSpec, opts: ListingOptions = {}): string {
  const quietField = spec.quietField ?? 'ID';
  if (opts.quiet) return rows.map((r) => `${String(r[quietField])}\n`).join('');
  const format = opts.format ?? '';
  try {
    if (format.trim() === 'json') return rows.map((r) => `${sortedJson(r)}\n`).join('');
    if (format === '' || format.startsWith('table')) {
      const body = unescape(format.slice('table'.length).trim() || spec.table);
      const row = compileGoTemplate(body);
      // The header: the same template run over the column names; fields without a header print "".
      const header = row.withFuncs(DOCKER_HEADER_FUNCS);
      const names: Row = {};
      for (const m of body.matchAll(/\.([A-Za-z_]\w*)/g)) {
        const title = spec.headers[m[1]] ?? '';
        names[m[1]] = typeof rows[0]?.[m[1]] === 'function' ? () => title : title; // {{.Label "k"}} -> LABEL
      }
      let head = '';
      try {
        head = header.execute(names);
      } catch {
        // docker/cli ignores a header that fails to render
      }
      const text = `${head}\n${rows.map((r) => `${row.execute(r)}\n`).join('')}`;
      return tabwrite(text);
    }
    const t = compileGoTemplate(unescape(format));
    return rows.map((r) => `${t.execute(r)}\n`).join('');
  } catch (e) {
    if (e instanceof TemplateError) throw new SkiffError(e.message, 125);
    throw e;
  }
}

export function writeListing(rows: Row[], spec: ListingSpec, opts: ListingOptions = {}): void {
  printOut(renderListing(rows, spec, opts));
}

/** Docker marshals a row's fields as a JSON object: sorted keys, methods left out. */
function sortedJson(r: Row): string {
  const out: Row = {};
  for (const k of Object.keys(r).sort()) if (typeof r[k] !== 'function') out[k] = r[k];
  return JSON.stringify(out);
}

/**
 * Docker's --no-trunc. yargs reads `--no-trunc` as "trunc is false" (boolean
 * negation), so a hidden --trunc receives it; noTrunc() reads either.
 */
export function noTruncOption<T>(y: Argv<T>): Argv<T> {
  return y
    .option('no-trunc', { type: 'boolean', default: false, describe: "Don't truncate output" })
    .option('trunc', { type: 'boolean', hidden: true }) as unknown as Argv<T>;
}

export const noTrunc = (a: { trunc?: boolean; 'no-trunc'?: boolean }): boolean => a.trunc === false || a['no-trunc'] === true;
