// The parser: tokens -> a tree of text, actions and if/with/range, checked as Go checks it
// (defined functions and variables, pipeline shape).
import { parseError } from './errors.js';
import type { Token } from './lex.js';
import type { FuncDef } from './values.js';

export interface Span { pos: number; end: number }
export type Expr = Span & (
  | { kind: 'dot' }
  | { kind: 'nil' }
  | { kind: 'lit'; value: unknown }
  | { kind: 'field'; path: string[] } // .A.B, looked up from dot
  | { kind: 'var'; name: string; path: string[] } // $x.A.B
  | { kind: 'pipe'; pipe: Pipe; path: string[] } // (pipeline).A.B
  | { kind: 'func'; name: string }
);
export interface Cmd extends Span { args: Expr[] }
export interface Pipe extends Span { decl: string[]; assign: boolean; cmds: Cmd[] }
export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipe }
  | Control
  | { kind: 'break' | 'continue' };
export interface Control { kind: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList: Node[] | null }

export class Parser {
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
