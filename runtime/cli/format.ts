/*
 * Go text/template, as used by `skiff inspect -f`, `ps --format` and `images --format`.
 *
 * Why not a library: @ctrl/golang-template 2.0.1 was evaluated and rejected. It has no
 * pipelines (`{{.Name | upper}}` renders ""), no custom functions (so no Docker `json`, `upper`,
 * ...), no `println`, no variables and no trim markers, and prints slices as "a,b" and maps as
 * "[object Object]" where Go prints "[a b]" and "map[k:v]". Wrapping it would have meant
 * rewriting most of it, so this file has its own small lexer -> parser (AST) -> evaluator that
 * follows Go's text/template and the function set of Docker's templates package
 * (docker/cli templates/templates.go: json, split, join, title, lower, upper, pad, truncate).
 *
 * Value model: plain objects behave as Go map[string]interface{}, arrays as []interface{}.
 * `undefined` (a missing key) is Go's "no value" and prints "<no value>". `null` is a Go nil
 * and prints "<nil>". Errors are TemplateErrors whose message reads like Docker's
 * "template parsing error: template: :1: function \"foo\" not defined".
 * The `table` prefix and the `\t`/`\n` escape replacement belong to the callers.
 */
import { Buffer } from 'node:buffer';

export type TemplateFunc = (...args: any[]) => unknown;

export interface GoTemplateOptions {
  /** Extra functions, or replacements for built-in ones (for example DOCKER_HEADER_FUNCS). */
  funcs?: Record<string, TemplateFunc>;
  /** 'error' makes a missing map key an error, like Go's Option("missingkey=error"). */
  missingKey?: 'default' | 'error';
}

export interface GoTemplate {
  execute(data: unknown): string;
}

export class TemplateError extends Error {
  /** `detail` is Go's own message, without Docker's "template parsing error: " prefix. */
  constructor(readonly phase: 'parse' | 'exec', readonly detail: string) {
    super(`template parsing error: ${detail}`);
    this.name = 'TemplateError';
  }
}

/** Parses `source` once. Use this to render many rows, e.g. for `ps --format`. */
export function compileGoTemplate(source: string, options: GoTemplateOptions = {}): GoTemplate {
  const funcs = new Map<string, FuncDef>(Object.entries(BUILTINS));
  for (const [name, fn] of Object.entries(options.funcs ?? {})) funcs.set(name, { fn });
  const tree = new Parser(source, lex(source), funcs).parse();
  const missingKeyError = options.missingKey === 'error';
  return { execute: (data) => new Exec(source, funcs, missingKeyError, data).run(tree) };
}

export function formatGoTemplate(template: string, data: unknown, options?: GoTemplateOptions): string {
  return compileGoTemplate(template, options).execute(data);
}

/** Docker's templates.HeaderFunctions: for a `table` header, each of these returns the column name unchanged. */
export const DOCKER_HEADER_FUNCS: Record<string, TemplateFunc> = Object.fromEntries(
  ['json', 'split', 'join', 'title', 'lower', 'upper', 'truncate'].map((n) => [n, (v: unknown) => v]),
);

// ---------------------------------------------------------------- lexer

type TokType = 'text' | 'open' | 'close' | 'field' | 'dot' | 'var' | 'ident' | 'string' | 'number'
  | 'bool' | 'nil' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'eof';
/** `space` records whitespace before the token: `.A.B` is one chain, `.A .B` two operands. */
interface Token { type: TokType; val: string; pos: number; space: boolean; value?: unknown }

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const NUMBER = /[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const VARIABLE = /\$[A-Za-z0-9_]*/y;
const QUOTED = /"(?:[^"\\\n]|\\.)*"/y;
const RAW = /`[^`]*`/y;
const CHAR = /'(?:[^'\\\n]|\\[^'\n]+)'/y;

function match(re: RegExp, src: string, pos: number): string | null {
  re.lastIndex = pos;
  return re.exec(src)?.[0] ?? null;
}

/** "}}" or " -}}" (which also trims the whitespace after it). */
function rightDelim(src: string, p: number): { len: number; trim: boolean } | null {
  if (src.startsWith('}}', p)) return { len: 2, trim: false };
  if (isSpace(src[p]) && src.startsWith('-}}', p + 1)) return { len: 4, trim: true };
  return null;
}

function lex(src: string): Token[] {
  const toks: Token[] = [];
  const push = (type: TokType, val: string, pos: number, space = false, value?: unknown) =>
    toks.push({ type, val, pos, space, value });
  let pos = 0;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', pos);
    let text = src.slice(pos, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    const trimLeft = open >= 0 && src[open + 2] === '-' && isSpace(src[open + 3]);
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    if (text) push('text', text, pos);
    if (open < 0) break;
    let p = open + (trimLeft ? 4 : 2);
    if (src.startsWith('/*', p)) { // {{/* comment */}}
      const end = src.indexOf('*/', p + 2);
      if (end < 0) throw parseError(src, open, 'unclosed comment');
      const r = rightDelim(src, end + 2);
      if (!r) throw parseError(src, end, 'comment ends before closing delimiter');
      pos = end + 2 + r.len;
      trimNext = r.trim;
      continue;
    }
    push('open', '{{', open);
    let space = false;
    for (;;) {
      const r = rightDelim(src, p);
      if (r) {
        push('close', '}}', p, space);
        pos = p + r.len;
        trimNext = r.trim;
        break;
      }
      if (p >= src.length) throw parseError(src, open, 'unclosed action');
      const c = src[p];
      const next = src[p + 1] ?? '';
      let m: string | null;
      if (isSpace(c)) { p++; space = true; continue; }
      if (c === '|') push('pipe', c, p, space);
      else if (c === '(') push('lparen', c, p, space);
      else if (c === ')') push('rparen', c, p, space);
      else if (c === ',') push('comma', c, p, space);
      else if (c === '=') push('assign', c, p, space);
      else if (c === ':' && next === '=') push('declare', ':=', p, space);
      else if (c === '"') {
        if (!(m = match(QUOTED, src, p))) throw parseError(src, p, 'unterminated quoted string');
        push('string', m, p, space, unquote(m.slice(1, -1), src, p));
      } else if (c === '`') {
        if (!(m = match(RAW, src, p))) throw parseError(src, p, 'unterminated raw quoted string');
        push('string', m, p, space, m.slice(1, -1));
      } else if (c === "'") {
        if (!(m = match(CHAR, src, p))) throw parseError(src, p, 'unterminated character constant');
        push('number', m, p, space, unquote(m.slice(1, -1), src, p).codePointAt(0));
      } else if (c === '$') push('var', match(VARIABLE, src, p)!, p, space);
      else if (c === '.' && /[A-Za-z_]/.test(next)) push('field', '.' + match(IDENT, src, p + 1)!, p, space);
      else if ((m = match(NUMBER, src, p))) {
        const value = numberValue(m);
        if (Number.isNaN(value) || /[A-Za-z0-9_.]/.test(src[p + m.length] ?? '')) {
          throw parseError(src, p, `bad number syntax: "${src.slice(p).match(/^[^\s}|)]*/)![0]}"`);
        }
        push('number', m, p, space, value);
      } else if (c === '.') push('dot', c, p, space);
      else if ((m = match(IDENT, src, p))) {
        if (m === 'true' || m === 'false') push('bool', m, p, space, m === 'true');
        else push(m === 'nil' ? 'nil' : 'ident', m, p, space);
      } else {
        const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        throw parseError(src, p, `unrecognized character in action: U+${code} '${c}'`);
      }
      p += toks[toks.length - 1].val.length;
      space = false;
    }
  }
  push('eof', '', src.length);
  return toks;
}

function numberValue(text: string): number {
  const digits = text.replace(/^[+-]/, '').replace(/_/g, '');
  const value = /^0[0-7]+$/.test(digits) ? parseInt(digits, 8) : Number(digits);
  return text.startsWith('-') ? -value : value;
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** Decodes Go escapes: \n, \t, \\, \", \xFF, \u1234, \U00012345, \101 (octal). */
function unquote(body: string, src: string, pos: number): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, e: string) => {
    if (e.length === 1) {
      if (e in ESCAPES) return ESCAPES[e];
      throw parseError(src, pos, 'invalid syntax');
    }
    return String.fromCodePoint(/^\d/.test(e) ? parseInt(e, 8) : parseInt(e.slice(1), 16));
  });
}

// ---------------------------------------------------------------- parser

interface Span { pos: number; end: number }
type Expr = Span & (
  | { kind: 'dot' }
  | { kind: 'nil' }
  | { kind: 'lit'; value: unknown }
  | { kind: 'field'; path: string[] } // .A.B, looked up from dot
  | { kind: 'var'; name: string; path: string[] } // $x.A.B
  | { kind: 'pipe'; pipe: Pipe; path: string[] } // (pipeline).A.B
  | { kind: 'func'; name: string }
);
interface Cmd extends Span { args: Expr[] }
interface Pipe extends Span { decl: string[]; assign: boolean; cmds: Cmd[] }
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipe }
  | Control
  | { kind: 'break' | 'continue' };
interface Control { kind: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList: Node[] | null }

class Parser {
  private i = 0;
  private vars = ['$'];
  private rangeDepth = 0;

  constructor(private src: string, private toks: Token[], private funcs: Map<string, FuncDef>) {}

  parse(): Node[] {
    const { nodes, stop } = this.list();
    if (stop) this.fail(stop, `unexpected {{${stop.val}}}`);
    return nodes;
  }

  private peek(): Token { return this.toks[this.i]; }
  private next(): Token { return this.toks[this.i++]; }
  private fail(tok: Token, msg: string): never { throw parseError(this.src, tok.pos, msg); }

  private expectClose(context: string): void {
    const t = this.next();
    if (t.type !== 'close') this.fail(t, `unexpected ${describe(t)} in ${context}`);
  }

  /** Nodes up to EOF or up to an {{end}}/{{else}}, whose keyword token is returned as `stop`. */
  private list(): { nodes: Node[]; stop: Token | null } {
    const nodes: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.type === 'eof') { this.i--; return { nodes, stop: null }; } // leave EOF to be peeked
      if (t.type === 'text') { nodes.push({ kind: 'text', text: t.val }); continue; }
      const k = this.peek(); // t is '{{'
      if (k.type === 'ident' && (k.val === 'end' || k.val === 'else')) { this.i++; return { nodes, stop: k }; }
      nodes.push(this.action());
    }
  }

  private action(): Node {
    const k = this.peek();
    if (k.type === 'ident') {
      switch (k.val) {
        case 'if': case 'with': case 'range':
          this.i++;
          return this.control(k.val);
        case 'break': case 'continue':
          this.i++;
          if (!this.rangeDepth) this.fail(k, `{{${k.val}}} outside {{range}}`);
          this.expectClose(k.val);
          return { kind: k.val };
        case 'define': case 'template': case 'block':
          this.fail(k, `{{${k.val}}} is not supported`);
      }
    }
    return { kind: 'action', pipe: this.pipeline('command', 'close') };
  }

  /** After `{{if`, `{{with` or `{{range`: pipeline, body, optional else, `{{end}}`. */
  private control(kind: 'if' | 'with' | 'range'): Node {
    const mark = this.vars.length; // variables declared inside go out of scope at {{end}}
    const pipe = this.pipeline(kind, 'close');
    if (kind === 'range') this.rangeDepth++;
    const body = this.list();
    if (kind === 'range') this.rangeDepth--;
    let elseList: Node[] | null = null;
    if (!body.stop) this.fail(this.peek(), 'unexpected EOF');
    if (body.stop.val === 'else') {
      const k = this.peek();
      if (k.type === 'ident' && k.val === kind && kind !== 'range') {
        // {{else if x}} is {{else}}{{if x}}...{{end}}, sharing the outer {{end}}
        this.i++;
        elseList = [this.control(kind)];
        this.vars.length = mark;
        return { kind, pipe, list: body.nodes, elseList };
      }
      this.expectClose('else');
      const alt = this.list();
      if (!alt.stop) this.fail(this.peek(), 'unexpected EOF');
      if (alt.stop.val !== 'end') this.fail(alt.stop, 'expected end; found {{else}}');
      elseList = alt.nodes;
    }
    this.expectClose('end');
    this.vars.length = mark;
    return { kind, pipe, list: body.nodes, elseList };
  }

  /** `[$x :=] cmd | cmd ...` up to '}}' (end = 'close') or ')' (end = 'rparen'). */
  private pipeline(context: string, end: 'close' | 'rparen'): Pipe {
    const pipe: Pipe = { decl: [], assign: false, cmds: [], pos: this.peek().pos, end: this.peek().pos };
    const [v1, op1, v2, op2] = this.toks.slice(this.i, this.i + 4);
    if (v1.type === 'var' && (op1.type === 'declare' || op1.type === 'assign')) {
      this.declare(pipe, [v1], op1);
    } else if (v1.type === 'var' && op1.type === 'comma') {
      if (context !== 'range') this.fail(op1, `too many declarations in ${context}`);
      if (v2.type !== 'var' || (op2.type !== 'declare' && op2.type !== 'assign')) this.fail(v2, 'range can only initialize variables');
      this.declare(pipe, [v1, v2], op2);
    }
    if (this.peek().type === end) this.fail(this.peek(), `missing value for ${context}`);
    pipe.pos = this.peek().pos;
    for (;;) {
      pipe.cmds.push(this.command());
      const t = this.next();
      if (t.type === 'pipe') continue;
      if (t.type !== end) this.fail(t, t.type === 'rparen' ? 'unexpected right paren' : 'unclosed left paren');
      break;
    }
    pipe.end = pipe.cmds[pipe.cmds.length - 1].end;
    pipe.cmds.slice(1).forEach((cmd, n) => {
      const kind = cmd.args[0].kind;
      if (kind === 'dot' || kind === 'nil' || kind === 'lit') {
        this.fail(this.toks[this.i - 1], `non executable command in pipeline stage ${n + 2}`);
      }
    });
    return pipe;
  }

  private declare(pipe: Pipe, vars: Token[], op: Token): void {
    this.i += vars.length * 2;
    pipe.assign = op.type === 'assign';
    for (const v of vars) {
      if (pipe.assign && !this.vars.includes(v.val)) this.fail(v, `undefined variable "${v.val}"`);
      pipe.decl.push(v.val);
      if (!pipe.assign) this.vars.push(v.val);
    }
  }

  private command(): Cmd {
    const args: Expr[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === 'close' || t.type === 'rparen' || t.type === 'pipe') break;
      if (args.length && !t.space) this.fail(t, `unexpected ${describe(t)} in operand`);
      args.push(this.operand());
    }
    if (!args.length) this.fail(this.peek(), 'missing command');
    return { args, pos: args[0].pos, end: args[args.length - 1].end };
  }

  /** A term followed by an optional field chain, as in `$x.A.B` or `(index .P 0).HostPort`. */
  private operand(): Expr {
    const e = this.term();
    while (this.peek().type === 'field' && !this.peek().space) {
      const f = this.next();
      if (e.kind !== 'field' && e.kind !== 'var' && e.kind !== 'pipe') {
        this.fail(f, `unexpected . after term "${this.src.slice(e.pos, e.end)}"`);
      }
      e.path.push(f.val.slice(1));
      e.end = f.pos + f.val.length;
    }
    return e;
  }

  private term(): Expr {
    const t = this.next();
    const span = { pos: t.pos, end: t.pos + t.val.length };
    switch (t.type) {
      case 'dot': return { kind: 'dot', ...span };
      case 'nil': return { kind: 'nil', ...span };
      case 'bool': case 'number': case 'string': return { kind: 'lit', value: t.value, ...span };
      case 'field': return { kind: 'field', path: [t.val.slice(1)], ...span };
      case 'var':
        if (!this.vars.includes(t.val)) this.fail(t, `undefined variable "${t.val}"`);
        return { kind: 'var', name: t.val, path: [], ...span };
      case 'ident':
        if (!this.funcs.has(t.val)) this.fail(t, `function "${t.val}" not defined`);
        return { kind: 'func', name: t.val, ...span };
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rparen');
        return { kind: 'pipe', pipe, path: [], pos: t.pos, end: this.toks[this.i - 1].pos + 1 };
      }
    }
    this.fail(t, `unexpected ${describe(t)} in operand`);
  }
}

function describe(t: Token): string {
  return t.type === 'eof' ? 'EOF' : t.type === 'ident' && /^(if|else|end|range|with)$/.test(t.val) ? `<${t.val}>` : `"${t.val}"`;
}

function lineAndColumn(src: string, pos: number): [number, number] {
  const before = src.slice(0, pos);
  const lineStart = before.lastIndexOf('\n') + 1;
  return [before.split('\n').length, Buffer.byteLength(before.slice(lineStart))];
}

function parseError(src: string, pos: number, msg: string): TemplateError {
  return new TemplateError('parse', `template: :${lineAndColumn(src, pos)[0]}: ${msg}`);
}

// ---------------------------------------------------------------- evaluator

const NONE = Symbol('no piped value');
const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');

class Exec {
  private vars: Array<[string, unknown]>;
  private out = '';

  constructor(private src: string, private funcs: Map<string, FuncDef>, private missingKeyError: boolean, data: unknown) {
    this.vars = [['$', data]];
  }

  run(nodes: Node[]): string {
    this.walk(nodes, this.vars[0][1]);
    return this.out;
  }

  private fail(at: Span, msg: string): never {
    const [line, col] = lineAndColumn(this.src, at.pos);
    const node = this.src.slice(at.pos, at.end);
    throw new TemplateError('exec', `template: :${line}:${col}: executing "" at <${node}>: ${msg}`);
  }

  private walk(nodes: Node[], dot: unknown): void {
    for (const n of nodes) {
      switch (n.kind) {
        case 'text': this.out += n.text; break;
        case 'action': {
          const v = this.evalPipe(dot, n.pipe);
          if (!n.pipe.decl.length) this.out += v === undefined ? '<no value>' : fmtValue(v);
          break;
        }
        case 'if': case 'with': {
          const mark = this.vars.length;
          const v = this.evalPipe(dot, n.pipe);
          if (truth(v)) this.walk(n.list, n.kind === 'with' ? v : dot);
          else if (n.elseList) this.walk(n.elseList, dot);
          this.vars.length = mark;
          break;
        }
        case 'range': this.range(n, dot); break;
        case 'break': throw BREAK;
        case 'continue': throw CONTINUE;
      }
    }
  }

  private range(n: Control, dot: unknown): void {
    const mark = this.vars.length;
    const val = this.evalPipe(dot, n.pipe, false);
    let items: Array<[unknown, unknown]>;
    if (Array.isArray(val)) items = val.map((e, i) => [i, e]);
    else if (isMap(val)) items = Object.keys(val).sort().map((k) => [k, val[k]]);
    else if (typeof val === 'number' && Number.isInteger(val)) items = Array.from({ length: Math.max(val, 0) }, (_, i) => [i, i]);
    else if (val == null) items = [];
    else this.fail(n.pipe, `range can't iterate over ${fmtValue(val)}`);
    if (!items.length && n.elseList) this.walk(n.elseList, dot);
    for (const [key, elem] of items) {
      const [first, second] = n.pipe.decl;
      if (second !== undefined) { this.bind(first, key, n.pipe); this.bind(second, elem, n.pipe); }
      else if (first !== undefined) this.bind(first, elem, n.pipe);
      try {
        this.walk(n.list, elem);
      } catch (e) {
        if (e === BREAK) break;
        if (e !== CONTINUE) throw e;
      } finally {
        this.vars.length = mark;
      }
    }
    this.vars.length = mark;
  }

  private bind(name: string, value: unknown, pipe: Pipe): void {
    if (!pipe.assign) { this.vars.push([name, value]); return; }
    const slot = this.lookup(name);
    if (!slot) this.fail(pipe, `undefined variable: ${name}`);
    slot[1] = value;
  }

  private lookup(name: string): [string, unknown] | undefined {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i][0] === name) return this.vars[i];
    return undefined;
  }

  private evalPipe(dot: unknown, pipe: Pipe, bindDecl = true): unknown {
    let v: unknown = NONE;
    for (const cmd of pipe.cmds) v = this.evalCmd(dot, cmd, v);
    if (bindDecl) for (const name of pipe.decl) this.bind(name, v, pipe);
    return v;
  }

  /** One pipeline stage; `final` is the previous stage's value, passed as the last argument. */
  private evalCmd(dot: unknown, cmd: Cmd, final: unknown): unknown {
    const [first, ...rest] = cmd.args;
    if (first.kind === 'func') return this.call(dot, first, cmd, rest, final);
    if (rest.length || final !== NONE) {
      if ('path' in first && first.path.length) this.fail(first, `${first.path.at(-1)} is not a method but has arguments`);
      this.fail(first, `can't give argument to non-function ${this.src.slice(first.pos, first.end)}`);
    }
    if (first.kind === 'nil') this.fail(first, 'nil is not a command');
    return this.evalArg(dot, first);
  }

  private evalArg(dot: unknown, e: Expr): unknown {
    switch (e.kind) {
      case 'dot': return dot;
      case 'nil': return null;
      case 'lit': return e.value;
      case 'field': return this.fields(dot, e.path, e);
      case 'var': return this.fields(this.lookup(e.name)![1], e.path, e);
      case 'pipe': return this.fields(this.evalPipe(dot, e.pipe), e.path, e);
      case 'func': return this.call(dot, e, e, [], NONE);
    }
  }

  private fields(receiver: unknown, path: string[], at: Span): unknown {
    let v = receiver;
    for (const name of path) {
      if (v === undefined) { // like Go's invalid value: stays "<no value>"
        if (this.missingKeyError) this.fail(at, `nil data; no entry for key "${name}"`);
      } else if (v === null) {
        this.fail(at, `nil pointer evaluating interface {}.${name}`);
      } else if (isMap(v)) {
        if (!Object.hasOwn(v, name) && this.missingKeyError) this.fail(at, `map has no entry for key "${name}"`);
        v = Object.hasOwn(v, name) ? v[name] : undefined;
      } else {
        this.fail(at, `can't evaluate field ${name} in type ${goType(v)}`);
      }
    }
    return v;
  }

  private call(dot: unknown, fn: Extract<Expr, { kind: 'func' }>, cmd: Span, argNodes: Expr[], final: unknown): unknown {
    const def = this.funcs.get(fn.name)!;
    const count = argNodes.length + (final === NONE ? 0 : 1);
    const argAt = (i: number): Span => argNodes[i] ?? cmd;
    if (def.lazy) { // and/or: short-circuit and return the deciding value, as Go does
      if (!count) this.fail(fn, `wrong number of args for ${fn.name}: want at least 1 got 0`);
      let v: unknown;
      for (let i = 0; i < count; i++) {
        v = i < argNodes.length ? this.evalArg(dot, argNodes[i]) : final;
        if (truth(v) === (fn.name === 'or')) return v;
      }
      return v;
    }
    const params = def.params;
    if (params && (def.variadic ? count < params.length : count !== params.length)) {
      const want = def.variadic ? `at least ${params.length}` : params.length;
      this.fail(fn, `wrong number of args for ${fn.name}: want ${want} got ${count}`);
    }
    const args = argNodes.map((a) => this.evalArg(dot, a));
    if (final !== NONE) args.push(final);
    args.forEach((v, i) => {
      const want = params ? (params[i] ?? def.variadic!) : 'any';
      const problem = checkType(v, want);
      if (problem) this.fail(argAt(i), problem);
    });
    try {
      return def.fn(...args);
    } catch (e) {
      this.fail(cmd, `error calling ${fn.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

// ---------------------------------------------------------------- values and functions

type Param = 'any' | 'string' | 'int' | '[]string';
interface FuncDef { fn: TemplateFunc; params?: Param[]; variadic?: Param; lazy?: boolean }

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function goType(v: unknown): string {
  if (v == null) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return v.length && v.every((e) => typeof e === 'string') ? '[]string' : '[]interface {}';
  return isMap(v) ? 'map[string]interface {}' : typeof v;
}

function checkType(v: unknown, want: Param): string | null {
  if (want === 'any') return null;
  if (v == null) return `invalid value; expected ${want}`;
  const ok = want === 'string' ? typeof v === 'string'
    : want === 'int' ? Number.isInteger(v)
    : Array.isArray(v) && v.every((e) => typeof e === 'string');
  return ok ? null : `wrong type for value; expected ${want}; got ${goType(v)}`;
}

/** Go's notion of "true": non-zero, non-empty and non-nil. */
function truth(v: unknown): boolean {
  if (v == null) return false;
  if (Array.isArray(v) || typeof v === 'string') return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Prints a value as Go's fmt %v does: [a b], map[k:v] (sorted keys), <nil>. */
function fmtValue(v: unknown): string {
  if (v == null) return '<nil>';
  if (typeof v === 'number') return fmtNumber(v);
  if (Array.isArray(v)) return `[${v.map(fmtValue).join(' ')}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${fmtValue(v[k])}`).join(' ')}]`;
  return String(v);
}

function fmtNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  const [mantissa, e] = n.toExponential().split('e'); // float64 %v is %g: 1e+06, 1.5e-05
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

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

const BUILTINS: Record<string, FuncDef> = {
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
