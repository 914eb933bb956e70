// Functions a template can call: Go's text/template built-ins and Docker's
// templates.basicFunctions (json, split, join, title, lower, upper, pad, truncate).
import { Buffer } from 'node:buffer';
import { fmtValue, type FuncDef, goType, isMap, type TemplateFunc, truth } from './values.js';

function compare(a: unknown, b: unknown): number {
  for (const x of [a, b]) {
    if (typeof x !== 'number' && typeof x !== 'string') throw new Error('invalid type for comparison');
  }
  if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
  return (a as number) < (b as number) ? -1 : a === b ? 0 : 1;
}

function equal(a: unknown, b: unknown): boolean {
  if (a == null || b == null) return a == null && b == null;
  for (const x of [a, b]) if (typeof x === 'object') throw new Error('non-comparable type');
  if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
  return a === b;
}

function goLen(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new Error(v == null ? 'len of nil pointer' : `len of type ${goType(v)}`);
}

function goIndex(item: unknown, ...indexes: unknown[]): unknown {
  if (item == null) throw new Error('index of untyped nil');
  let v: unknown = item;
  for (const i of indexes) {
    if (v == null) throw new Error('index of nil pointer');
    if (Array.isArray(v) || typeof v === 'string') {
      if (i == null) throw new Error('cannot index slice/array with nil');
      if (!Number.isInteger(i)) throw new Error(`cannot index slice/array with type ${goType(i)}`);
      const bytes = typeof v === 'string' ? Buffer.from(v) : v;
      if ((i as number) < 0 || (i as number) >= bytes.length) throw new Error(`index out of range: ${i}`);
      v = bytes[i as number];
    } else if (isMap(v)) {
      if (typeof i !== 'string') throw new Error(`value has type ${goType(i)}; should be string`);
      v = Object.hasOwn(v, i) ? v[i] : undefined;
    } else {
      throw new Error(`can't index item of type ${goType(v)}`);
    }
  }
  return v;
}

/** fmt.Sprint: a space goes between operands when neither side is a string. */
function sprint(...args: unknown[]): string {
  return args.map((a, i) => (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + fmtValue(a)).join('');
}

/** A subset of fmt.Sprintf: %v %s %q %d %t %f %x %X %%, with flags '-' and '0', width and precision. */
function sprintf(format: string, ...args: unknown[]): string {
  let n = 0;
  const bad = (verb: string, a: unknown) => `%!${verb}(${goType(a)}=${fmtValue(a)})`;
  let out = format.replace(/%([-+# 0]*)(\d*)(?:\.(\d*))?([a-zA-Z%])/g, (_, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    switch (verb) {
      case 'v': s = fmtValue(a); break;
      case 's': s = typeof a === 'string' ? a : bad(verb, a); break;
      case 'q': s = typeof a === 'string' ? JSON.stringify(a) : bad(verb, a); break;
      case 'd': s = Number.isInteger(a) ? String(a) : bad(verb, a); break;
      case 't': s = typeof a === 'boolean' ? String(a) : bad(verb, a); break;
      case 'f': s = typeof a === 'number' ? a.toFixed(prec === undefined ? 6 : Number(prec)) : bad(verb, a); break;
      case 'x': case 'X':
        s = Number.isInteger(a) ? (a as number).toString(16) : typeof a === 'string' ? Buffer.from(a).toString('hex') : bad(verb, a);
        if (verb === 'X') s = s.toUpperCase();
        break;
      default: s = bad(verb, a);
    }
    if (prec !== undefined && (verb === 's' || verb === 'v')) s = [...s].slice(0, Number(prec)).join('');
    const w = Number(width || 0);
    if (flags.includes('-')) return s.padEnd(w);
    if (flags.includes('0') && /^-?\d/.test(s)) return s.startsWith('-') ? '-' + s.slice(1).padStart(w - 1, '0') : s.padStart(w, '0');
    return s.padStart(w);
  });
  if (n < args.length) out += `%!(EXTRA ${args.slice(n).map((a) => `${goType(a)}=${fmtValue(a)}`).join(', ')})`;
  return out;
}

/** Go's strconv.Quote: double quotes, Go escapes for control chars, printable Unicode kept. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    // Printable ASCII needs no class lookup (V8 compiles the \p{} regex on first use: ~4 ms).
    if (cp >= 0x20 && cp < 0x7f && ch !== '"' && ch !== '\\') out += ch;
    else if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch in GO_ESCAPES) out += GO_ESCAPES[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (!/[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u.test(ch)) out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const GO_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

/** Docker's json: compact, no HTML escaping; Go still escapes U+2028/U+2029; errors give "". */
function dockerJson(v: unknown): string {
  try {
    return (JSON.stringify(v === undefined ? null : v) ?? 'null').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  } catch {
    return '';
  }
}

/** strings.Title: upper-cases each letter that follows a separator (start, space, punctuation). */
function goTitle(s: string): string {
  const isSeparator = (r: string): boolean => {
    if (r.codePointAt(0)! <= 0x7f) return !/[0-9A-Za-z_]/.test(r);
    return !/[\p{L}\p{Nd}]/u.test(r) && /\s/u.test(r);
  };
  let prev = ' ';
  let out = '';
  for (const r of s) {
    out += isSeparator(prev) ? r.toUpperCase() : r;
    prev = r;
  }
  return out;
}

export const BUILTINS: Record<string, FuncDef> = {
  // Go text/template built-ins
  and: { fn: () => undefined, lazy: true },
  or: { fn: () => undefined, lazy: true },
  not: { params: ['any'], fn: (v) => !truth(v) },
  len: { params: ['any'], fn: goLen },
  index: { params: ['any'], variadic: 'any', fn: goIndex },
  eq: {
    params: ['any'], variadic: 'any', fn: (a, ...bs) => {
      if (!bs.length) throw new Error('missing argument for comparison');
      return bs.some((b) => equal(a, b));
    },
  },
  ne: { params: ['any', 'any'], fn: (a, b) => !equal(a, b) },
  lt: { params: ['any', 'any'], fn: (a, b) => compare(a, b) < 0 },
  le: { params: ['any', 'any'], fn: (a, b) => compare(a, b) <= 0 },
  gt: { params: ['any', 'any'], fn: (a, b) => compare(a, b) > 0 },
  ge: { params: ['any', 'any'], fn: (a, b) => compare(a, b) >= 0 },
  print: { params: [], variadic: 'any', fn: sprint },
  println: { params: [], variadic: 'any', fn: (...args) => args.map(fmtValue).join(' ') + '\n' },
  printf: { params: ['string'], variadic: 'any', fn: sprintf },
  // Docker's templates.basicFunctions
  json: { params: ['any'], fn: dockerJson },
  split: { params: ['string', 'string'], fn: (s: string, sep: string) => (sep === '' ? [...s] : s.split(sep)) },
  join: { params: ['[]string', 'string'], fn: (a: string[], sep: string) => a.join(sep) },
  title: { params: ['string'], fn: goTitle },
  lower: { params: ['string'], fn: (s: string) => s.toLowerCase() },
  upper: { params: ['string'], fn: (s: string) => s.toUpperCase() },
  pad: { params: ['string', 'int', 'int'], fn: (s: string, pre: number, suf: number) => (s === '' ? s : ' '.repeat(pre) + s + ' '.repeat(suf)) },
  truncate: { params: ['string', 'int'], fn: (s: string, n: number) => (s.length < n ? s : s.slice(0, n)) },
};

/** Docker's templates.HeaderFunctions: for a `table` header, each of these returns the column name unchanged. */
export const DOCKER_HEADER_FUNCS: Record<string, TemplateFunc> = Object.fromEntries(
  ['json', 'split', 'join', 'title', 'lower', 'upper', 'truncate'].map((n) => [n, (v: unknown) => v]),
);
