// The evaluator: walks the tree with a data value as dot, as Go's text/template executes.
import { lineAndColumn, TemplateError } from './errors.js';
import type { Cmd, Control, Expr, Node, Pipe, Span } from './parse.js';
import { checkType, fmtValue, type FuncDef, goType, isMap, truth } from './values.js';

const NONE = Symbol('no piped value');
const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');

export class Exec {
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
      if ('path' in first && first.path.length) { // a method call: {{.Label "key"}}
        const args = rest.map((a) => this.evalArg(dot, a));
        if (final !== NONE) args.push(final);
        const receiver = first.kind === 'field' ? dot : first.kind === 'var' ? this.lookup(first.name)![1] : this.evalPipe(dot, first.pipe);
        return this.fields(receiver, first.path, first, args);
      }
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

  /** Follows .A.B from receiver. A function-valued field is a Go method: called, the last one with `args`. */
  private fields(receiver: unknown, path: string[], at: Span, args?: unknown[]): unknown {
    let v = receiver;
    for (const [i, name] of path.entries()) {
      if (v === undefined) { // like Go's invalid value: stays "<no value>"
        if (this.missingKeyError) this.fail(at, `nil data; no entry for key "${name}"`);
      } else if (v === null) {
        this.fail(at, `nil pointer evaluating interface {}.${name}`);
      } else if (isMap(v)) {
        if (!Object.hasOwn(v, name) && this.missingKeyError) this.fail(at, `map has no entry for key "${name}"`);
        v = Object.hasOwn(v, name) ? v[name] : undefined;
        const last = i === path.length - 1;
        if (typeof v === 'function') {
          try {
            v = (v as (...a: unknown[]) => unknown)(...(last && args ? args : []));
          } catch (e) {
            this.fail(at, `error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
          }
        } else if (last && args) {
          this.fail(at, `${name} is not a method but has arguments`);
        }
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
