// The lexer: template text -> tokens (text between actions, and the words inside {{ }}).
import { parseError } from './errors.js';

export type TokType = 'text' | 'open' | 'close' | 'field' | 'dot' | 'var' | 'ident' | 'string' | 'number'
  | 'bool' | 'nil' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'eof';
/** `space` records whitespace before the token: `.A.B` is one chain, `.A .B` two operands. */
export interface Token { type: TokType; val: string; pos: number; space: boolean; value?: unknown }

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

export function lex(src: string): Token[] {
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
