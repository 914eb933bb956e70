// `--filter key=value` for ps and images, with the daemon's semantics (moby
// daemon/list.go and images/images.go): values of one key OR together, keys
// AND together; `label` is the exception, where every value must match.
import { SkiffError } from '../util/errors.js';

export type Filters = Map<string, string[]>;

/** Parses repeated --filter flags; a key the command does not know is an error, as in Docker. */
export function parseFilters(flags: string[] | undefined, accepted: readonly string[]): Filters {
  const out: Filters = new Map();
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq < 0) throw new SkiffError(`invalid argument "${f}" for "-f, --filter" flag: bad format of filter (expected name=value)`, 125);
    const key = f.slice(0, eq).trim().toLowerCase();
    const value = f.slice(eq + 1).trim();
    if (!accepted.includes(key)) throw invalidFilter(key);
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

export function invalidFilter(key: string, value?: string): SkiffError {
  return new SkiffError(`invalid filter '${key}${value === undefined ? '' : `=${value}`}'`, 1);
}

/** filters.Match: no values match everything; else any value that equals `source` or is a regexp found in it. */
export function matchAny(values: string[] | undefined, source: string): boolean {
  if (!values?.length) return true;
  return values.some((v) => {
    if (v === source) return true;
    try {
      return new RegExp(v).test(source);
    } catch {
      return false;
    }
  });
}

/** filters.MatchKVList: every `key` or `key=value` must be among the labels. */
export function matchLabels(values: string[] | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!values?.length) return true;
  return values.every((v) => {
    const eq = v.indexOf('=');
    const key = eq < 0 ? v : v.slice(0, eq);
    if (!labels || !Object.hasOwn(labels, key)) return false;
    return eq < 0 || labels[key] === v.slice(eq + 1);
  });
}

/** Go's path.Match: `*` and `?` stop at `/`, `[a-z]` and `[^...]` classes, `\` escapes. */
export function globMatch(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new SkiffError('syntax error in pattern', 1);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `(?!/)[${negate ? '^' : ''}${body.replace(/[\]\\]/g, '\\$&')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 's').test(name);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** "80", "80/udp", "8000-8080/tcp" -> ["80/tcp"], ... (Docker's publish/expose filter values). */
export function portSet(value: string, key: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(value);
  if (!m) throw invalidFilter(key, value);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (to < from || to > 65535) throw invalidFilter(key, value);
  const proto = m[3] ?? 'tcp';
  return Array.from({ length: to - from + 1 }, (_, i) => `${from + i}/${proto}`);
}

/** The value of a boolean filter (dangling=true). */
export function boolFilter(key: string, values: string[]): boolean {
  const v = new Set(values.map((x) => x.toLowerCase()));
  for (const x of v) if (x !== 'true' && x !== 'false' && x !== '1' && x !== '0') throw invalidFilter(key, x);
  if (v.size > 1 && (v.has('true') || v.has('1')) && (v.has('false') || v.has('0'))) throw invalidFilter(key, values.join(','));
  return v.has('true') || v.has('1');
}
