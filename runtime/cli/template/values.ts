// The value model: plain objects are Go map[string]interface{}, arrays []interface{},
// undefined is "no value", null is nil; goStruct() marks an object as a Go struct.
// fmtValue() prints a value as Go's fmt %v does.

export type TemplateFunc = (...args: any[]) => unknown;

export type Param = 'any' | 'string' | 'int' | '[]string';
export interface FuncDef { fn: TemplateFunc; params?: Param[]; variadic?: Param; lazy?: boolean }

const STRUCT = Symbol('Go struct');

/**
 * Marks `obj` as a Go struct (for example the struct{} values of ExposedPorts and Volumes):
 * %v prints its field values in braces, `{}` when it has none, where a map prints map[...].
 * The mark is a non-enumerable symbol, so JSON output and field access are unchanged.
 */
export function goStruct<T extends object>(obj: T): T {
  Object.defineProperty(obj, STRUCT, { value: true });
  return obj;
}

export function isStruct(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.hasOwn(v, STRUCT);
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function goType(v: unknown): string {
  if (v == null) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return v.length && v.every((e) => typeof e === 'string') ? '[]string' : '[]interface {}';
  if (isStruct(v)) return 'struct {}';
  return isMap(v) ? 'map[string]interface {}' : typeof v;
}

export function checkType(v: unknown, want: Param): string | null {
  if (want === 'any') return null;
  if (v == null) return `invalid value; expected ${want}`;
  const ok = want === 'string' ? typeof v === 'string'
    : want === 'int' ? Number.isInteger(v)
    : Array.isArray(v) && v.every((e) => typeof e === 'string');
  return ok ? null : `wrong type for value; expected ${want}; got ${goType(v)}`;
}

/** Go's notion of "true": non-zero, non-empty and non-nil (a struct is always true). */
export function truth(v: unknown): boolean {
  if (v == null) return false;
  if (isStruct(v)) return true;
  if (Array.isArray(v) || typeof v === 'string') return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Prints a value as Go's fmt %v does: [a b], map[k:v] (sorted keys), {field values}, <nil>. */
export function fmtValue(v: unknown): string {
  if (v == null) return '<nil>';
  if (typeof v === 'number') return fmtNumber(v);
  if (Array.isArray(v)) return `[${v.map(fmtValue).join(' ')}]`;
  if (isStruct(v)) return `{${Object.values(v as object).map(fmtValue).join(' ')}}`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${fmtValue(v[k])}`).join(' ')}]`;
  return String(v);
}

export function fmtNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  const [mantissa, e] = n.toExponential().split('e'); // float64 %v is %g: 1e+06, 1.5e-05
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}
