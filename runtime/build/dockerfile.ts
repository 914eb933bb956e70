// The Dockerfile parser behind `skiff build`, following Docker's own parser
// (moby/buildkit frontend/dockerfile/parser and instructions):
//
//   - parser directives (`# escape=`, `# syntax=`, `# check=`) only at the very top;
//   - `#` comments at line start, blank lines, and line continuation with the
//     escape char at the end of a line (whitespace after it allowed) unless it
//     is itself escaped (`\\`); comment and blank lines inside a continuation
//     are skipped;
//   - leading `--name=value` flags, checked against what each instruction
//     accepts;
//   - JSON-array (exec) form only when the arguments are a JSON array;
//   - per-instruction argument checks, with errors that name file and line.
//
// Variable substitution is not done here: Docker expands at build time, with
// the ARG/ENV values in effect at each step. expandVariables(), expandWords()
// and splitWords() are Docker's word lexer for that.
import { SkiffError } from '../util/errors.js';

export interface KeyValue {
  /** As written: quotes and escapes kept, not expanded (expandVariables() removes both). */
  key: string;
  /** As written; undefined for `ARG name` without a default. */
  value?: string;
}

export interface HealthcheckConfig {
  /** Docker's Test: ["NONE"], ["CMD", ...argv] (JSON form) or ["CMD-SHELL", "command"]. */
  test: string[];
  /** Nanoseconds, as in an image config; absent when not given. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export interface Instruction {
  /** 1-based line where the instruction starts. */
  line: number;
  /** Last line (continuations). */
  endLine: number;
  /** Upper-case: FROM, RUN, CMD, ... */
  keyword: string;
  /** The argument text after the keyword and its --flags, continuations joined as Docker does
   * (escape char + newline removed), comments inside continuations dropped; not expanded. */
  args: string;
  /** Set when args is a JSON array of strings (exec form), for RUN, CMD, ENTRYPOINT, SHELL,
   * COPY, ADD and VOLUME (the instructions where Docker accepts the JSON form). */
  json?: string[];
  /** Leading --name=value flags ('' for a bare --flag). A repeated flag keeps its last value. */
  flags: Record<string, string>;
  /** Every flag in order, repeats included (RUN --mount, COPY --exclude may repeat). */
  flagList: Array<[string, string]>;
  /** The instruction as written, on one line (Docker's "Original": keyword, flags and args). */
  text: string;
  /** ENV and LABEL: the name/value pairs (always a value); ARG: names with optional defaults. */
  pairs?: KeyValue[];
  /** ONBUILD: the trigger instruction, parsed and checked (args holds its text). */
  nested?: Instruction;
  /** HEALTHCHECK: the parsed config. */
  healthcheck?: HealthcheckConfig;
}

export interface Stage {
  /** From "AS name", lower-cased. */
  name?: string;
  /** The raw image text after FROM (unexpanded; global ARGs apply). */
  base: string;
  fromLine: number;
  /** The FROM instruction itself (flags such as --platform, text for "Step N/M"). */
  from: Instruction;
  /** The instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

export interface Dockerfile {
  /** The escape char: `\` or, with `# escape=\``, a backtick. */
  escape: string;
  /** ARG instructions before the first FROM. */
  globalArgs: Instruction[];
  stages: Stage[];
  /** Every instruction in the file: global ARGs, each FROM, and each stage's instructions
   * (the M in Docker's "Step N/M"). */
  instructionCount: number;
}

export const INSTRUCTIONS = [
  'FROM', 'MAINTAINER', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT',
  'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
] as const;
const KNOWN = new Set<string>(INSTRUCTIONS);

type FlagKind = 'string' | 'bool';
/** The flags each instruction accepts (Docker's list); any other is "unknown flag". */
const FLAGS: Record<string, Record<string, FlagKind>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'string', network: 'string', security: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'string' },
  ADD: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'string' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};
const REPEATABLE = new Set(['mount', 'exclude']);
/** The parser directives BuildKit knows; any other `# key=value` line ends the directives. */
const DIRECTIVES = new Set(['escape', 'syntax', 'check']);
/** Where Docker accepts the JSON-array form. */
const JSON_FORM = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME']);

/** A bad Dockerfile fails the build with exit code 1, as `docker build` does. */
const BUILD_FAILED = 1;

/** A user-facing error located in a Dockerfile: `Dockerfile:3: message`. */
export function dockerfileError(file: string, line: number, message: string): SkiffError {
  return new SkiffError(`${file}:${line}: ${message}`, BUILD_FAILED);
}

/** An error inside one instruction; the caller adds file and line. */
class InstructionError extends Error {}

const isSpace = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);
/** Go's regexp `[\t\v\f\r ]+`, which Docker splits keywords and plain word lists on. */
const BLANKS = /[\t\v\f\r ]+/;

export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (text.trim() === '') throw new SkiffError(`the Dockerfile (${file}) cannot be empty`, BUILD_FAILED);
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === '') lines.pop();

  // Parser directives: `# key=value` lines at the very top. The first line that
  // is not one (an instruction, a blank line, any other comment, or an unknown
  // directive) ends them. `check` (BuildKit's lint settings) is accepted and
  // not acted on; it does not end the directives.
  let escape = '\\';
  let directivesDone = false;
  const seen = new Set<string>();
  const directive = (line: string, lineNo: number): void => {
    if (directivesDone) return;
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(line);
    const key = m?.[1].toLowerCase();
    if (!m || !DIRECTIVES.has(key!)) {
      directivesDone = true;
      return;
    }
    if (seen.has(key!)) throw dockerfileError(file, lineNo, `only one ${key} parser directive can be used`);
    seen.add(key!);
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw dockerfileError(file, lineNo, `invalid escape token '${m[2]}' does not match \` or \\`);
      escape = m[2];
    }
  };
  const isComment = (line: string): boolean => line.trimStart().startsWith('#');
  /**
   * Strips a trailing continuation: the escape char, then only spaces/tabs, either alone on the
   * line or after a char that is not the escape char (BuildKit's rule: `a\\` ends with an escaped
   * escape char, which is no continuation; like BuildKit, `a\\\` is not one either).
   */
  const continued = (line: string): [string, boolean] => {
    const m = /[ \t]*$/.exec(line)!;
    const at = m.index - 1;
    if (at < 0 || line[at] !== escape || (at > 0 && line[at - 1] === escape)) return [line, false];
    return [line.slice(0, at), true];
  };

  const all: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trimStart();
    directive(first, i + 1);
    const startLine = i + 1;
    let [line, more] = continued(first.startsWith('#') ? '' : first);
    if (!more && line === '') continue;
    while (more && i + 1 < lines.length) {
      const raw = lines[++i];
      if (isComment(raw) || raw.trim() === '') continue;
      let part: string;
      [part, more] = continued(raw);
      line += part;
    }
    try {
      all.push(parseInstruction(line, startLine, i + 1, escape));
    } catch (e) {
      if (e instanceof InstructionError) throw dockerfileError(file, startLine, e.message);
      throw e;
    }
  }
  if (all.length === 0) throw new SkiffError(`${file}: file with no instructions`, BUILD_FAILED);

  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const inst of all) {
    if (inst.keyword === 'FROM') {
      const words = inst.args.split(BLANKS);
      const name = words.length === 3 ? words[2].toLowerCase() : undefined;
      if (name !== undefined && stages.some((s) => s.name === name)) {
        throw dockerfileError(file, inst.line, `duplicate stage name "${name}"`);
      }
      stages.push({ ...(name !== undefined && { name }), base: words[0], fromLine: inst.line, from: inst, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(inst);
    } else if (inst.keyword === 'ARG') {
      globalArgs.push(inst);
    } else {
      throw dockerfileError(file, inst.line,
        `no build stage in current context: expected FROM before ${inst.keyword} (only ARG may come before the first FROM)`);
    }
  }
  if (stages.length === 0) {
    throw dockerfileError(file, all[all.length - 1].line, 'no build stage in current context: the Dockerfile has no FROM');
  }
  const instructionCount = globalArgs.length + stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
  return { escape, globalArgs, stages, instructionCount };
}

/** One logical line (continuations joined) → an Instruction, checked like Docker does. */
function parseInstruction(line: string, start: number, end: number, escape: string): Instruction {
  const text = line.trim();
  const [word, rest = ''] = splitOnce(text);
  const keyword = word.toUpperCase();
  if (!KNOWN.has(keyword)) {
    const hint = suggest(keyword);
    throw new InstructionError(`unknown instruction: ${word}${hint ? ` (did you mean ${hint}?)` : ''}`);
  }
  const [flagWords, afterFlags] = extractFlags(rest, escape);
  const args = afterFlags.trim();
  const { flags, flagList } = checkFlags(keyword, flagWords);
  const inst: Instruction = { line: start, endLine: end, keyword, args, flags, flagList, text };

  if (JSON_FORM.has(keyword)) {
    const json = jsonForm(args);
    if (json) inst.json = json;
  }
  const words = (): string[] => (inst.json ?? (args === '' ? [] : args.split(BLANKS)));
  switch (keyword) {
    case 'FROM': {
      const w = words();
      if (w.length === 3 && w[1].toLowerCase() === 'as') {
        if (!/^[a-z][a-z0-9_.-]*$/.test(w[2].toLowerCase())) {
          throw new InstructionError(`invalid name for build stage: "${w[2]}", name can't start with a number or contain symbols`);
        }
      } else if (w.length !== 1) {
        throw new InstructionError('FROM requires either one or three arguments');
      }
      break;
    }
    case 'MAINTAINER': case 'USER': case 'WORKDIR': case 'STOPSIGNAL':
      if (args === '') throw new InstructionError(`${keyword} requires exactly one argument`);
      break;
    case 'RUN':
      if (inst.json ? inst.json.length === 0 : args === '') throw new InstructionError('RUN requires at least one argument');
      break;
    case 'SHELL':
      if (!inst.json) throw new InstructionError('SHELL requires the arguments to be in JSON form');
      if (inst.json.length === 0) throw new InstructionError('SHELL requires at least one argument');
      break;
    case 'COPY': case 'ADD':
      if (words().length < 2) {
        throw new InstructionError(`${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
      }
      break;
    case 'EXPOSE':
      if (args === '') throw new InstructionError('EXPOSE requires at least one argument');
      break;
    case 'VOLUME':
      if (words().length === 0) throw new InstructionError('VOLUME requires at least one argument');
      if (words().some((v) => v.trim() === '')) throw new InstructionError('VOLUME specified can not be an empty string');
      break;
    case 'ENV': case 'LABEL':
      inst.pairs = nameValues(args, keyword, escape);
      break;
    case 'ARG': {
      const ws = rawWords(args, escape);
      if (ws.length === 0) throw new InstructionError('ARG requires at least one argument');
      inst.pairs = ws.map((w) => {
        const eq = w.indexOf('=');
        if (eq < 0) return { key: w };
        if (eq === 0) throw new InstructionError('ARG names can not be blank');
        return { key: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      break;
    }
    case 'ONBUILD': {
      if (args === '') throw new InstructionError('ONBUILD requires at least one argument');
      const trigger = splitOnce(args)[0].toUpperCase();
      if (trigger === 'ONBUILD') throw new InstructionError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'FROM' || trigger === 'MAINTAINER') throw new InstructionError(`${trigger} isn't allowed as an ONBUILD trigger`);
      inst.nested = parseInstruction(args, start, end, escape);
      break;
    }
    case 'HEALTHCHECK':
      inst.healthcheck = healthcheck(args, flags);
      break;
    // CMD and ENTRYPOINT take anything, even nothing.
  }
  return inst;
}

/** Splits off the first blank-delimited word: [word, rest-after-blanks] (rest undefined when none). */
function splitOnce(s: string): [string, string?] {
  const m = BLANKS.exec(s);
  return m ? [s.slice(0, m.index), s.slice(m.index + m[0].length)] : [s];
}

/**
 * Docker's leading-flag extraction: words starting with `--` (quotes and
 * escapes with the file's escape char allowed inside them) are flags, up to the
 * first word that is not; a bare `--` ends the flags and is dropped. Returns
 * [flags, rest]. Under `# escape=\``, a backslash in a flag is an ordinary char.
 */
function extractFlags(line: string, escape: string): [string[], string] {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && isSpace(line[pos])) pos++;
    if (pos >= line.length) return [flags, ''];
    if (!line.startsWith('--', pos)) return [flags, line.slice(pos)];
    let word = '';
    let quote = '';
    let quoted = false;
    for (; pos < line.length; pos++) {
      const ch = line[pos];
      if (quote) {
        if (ch === quote) quote = '';
        else if (ch === escape && pos + 1 < line.length) word += line[++pos];
        else if (ch !== escape) word += ch;
        continue;
      }
      if (isSpace(ch)) break;
      if (ch === '"' || ch === "'") {
        quote = ch;
        quoted = true;
      } else if (ch === escape) {
        if (pos + 1 < line.length) word += line[++pos];
      } else {
        word += ch;
      }
    }
    if (word === '--' && !quoted) return [flags, line.slice(pos)];
    flags.push(word);
  }
}

function checkFlags(keyword: string, words: string[]): { flags: Record<string, string>; flagList: Array<[string, string]> } {
  const allowed = FLAGS[keyword] ?? {};
  const flags: Record<string, string> = {};
  const flagList: Array<[string, string]> = [];
  for (const w of words) {
    const body = w.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? '' : body.slice(eq + 1);
    const kind = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (!kind) throw new InstructionError(`unknown flag: ${name || w}`);
    if (Object.hasOwn(flags, name) && !REPEATABLE.has(name)) throw new InstructionError(`duplicate flag specified: ${name}`);
    if (kind === 'string' && eq < 0) throw new InstructionError(`missing a value on flag: ${name}`);
    if (kind === 'bool' && !['', 'true', 'false'].includes(value.toLowerCase())) {
      throw new InstructionError(`expecting boolean value for flag ${name}, not: ${value}`);
    }
    flags[name] = value;
    flagList.push([name, value]);
  }
  return { flags, flagList };
}

/** Docker's exec-form rule: a JSON array (of strings only: anything else in it is an error), else undefined. */
function jsonForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    return undefined; // not JSON: the shell form
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x) => typeof x === 'string')) {
    throw new InstructionError('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return v as string[];
}

/**
 * Words as Docker's parser cuts them for ENV, LABEL and ARG: split on blanks
 * outside quotes, with the quotes and escapes kept in the words (they are
 * removed later, when the word is expanded).
 */
function rawWords(s: string, escape: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let keepEmpty = false;
  let quote = '';
  for (let pos = 0; pos < s.length; pos++) {
    const ch = s[pos];
    if (quote) {
      if (ch === quote) quote = '';
      if (ch === escape && quote !== "'") {
        if (pos + 1 === s.length) continue; // a trailing escape char is dropped
        cur += ch + s[++pos];
        continue;
      }
      cur += ch;
      continue;
    }
    if (isSpace(ch)) {
      if (inWord && (keepEmpty || cur !== '')) words.push(cur);
      cur = '';
      inWord = keepEmpty = false;
      continue;
    }
    inWord = true;
    if (ch === '"' || ch === "'") {
      quote = ch;
      keepEmpty = true;
    }
    if (ch === escape) {
      if (pos + 1 === s.length) continue;
      cur += ch + s[++pos];
      continue;
    }
    cur += ch;
  }
  if (inWord && (keepEmpty || cur !== '')) words.push(cur);
  return words;
}

/** ENV/LABEL: `name=value ...`, or the legacy `name value` (one pair, value = the rest of the line). */
function nameValues(args: string, keyword: string, escape: string): KeyValue[] {
  const words = rawWords(args, escape);
  if (words.length === 0) throw new InstructionError(`${keyword} requires at least one argument`);
  let pairs: KeyValue[];
  if (!words[0].includes('=')) {
    const [key, value] = splitOnce(args);
    if (value === undefined) throw new InstructionError(`${keyword} must have two arguments`);
    pairs = [{ key, value }];
  } else {
    pairs = words.map((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) throw new InstructionError(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      return { key: w.slice(0, eq), value: w.slice(eq + 1) };
    });
  }
  if (pairs.some((p) => p.key === '')) throw new InstructionError(`${keyword} names can not be blank`);
  return pairs;
}

function healthcheck(args: string, flags: Record<string, string>): HealthcheckConfig {
  if (args === '') throw new InstructionError('HEALTHCHECK requires at least one argument');
  const [word, rest = ''] = splitOnce(args);
  const type = word.toUpperCase();
  if (type === 'NONE') {
    if (rest.trim() !== '') throw new InstructionError('HEALTHCHECK NONE takes no arguments');
    return { test: ['NONE'] };
  }
  if (type !== 'CMD') throw new InstructionError(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const cmd = rest.trim();
  const json = jsonForm(cmd);
  if (json ? json.length === 0 : cmd === '') throw new InstructionError('Missing command after HEALTHCHECK CMD');
  const hc: HealthcheckConfig = { test: json ? ['CMD', ...json] : ['CMD-SHELL', cmd] };
  const durations = [['interval', 'interval'], ['timeout', 'timeout'], ['start-period', 'startPeriod'], ['start-interval', 'startInterval']] as const;
  for (const [flag, field] of durations) {
    const v = flags[flag];
    if (v === undefined || v === '') continue;
    const ns = parseDuration(v);
    if (ns === undefined) throw new InstructionError(`time: invalid duration "${v}"`);
    if (ns === 0) continue; // 0 is "the default", as when not given (BuildKit)
    if (ns < 1_000_000) throw new InstructionError(`Interval "${flag}" cannot be less than 1ms`);
    hc[field] = ns;
  }
  if (flags.retries !== undefined && flags.retries !== '') {
    if (!/^[+-]?\d+$/.test(flags.retries)) throw new InstructionError(`--retries must be an integer (not "${flags.retries}")`);
    const n = Number(flags.retries);
    if (n < 0) throw new InstructionError(`--retries cannot be negative (${n})`);
    if (n > 0) hc.retries = n; // 0 is "the default", as in an image config (omitted)
  }
  return hc;
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration ("1m30s", "1.5h", "500ms") in nanoseconds; undefined if invalid. */
export function parseDuration(s: string): number | undefined {
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  const re = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  for (let pos = 0; pos < s.length; pos = re.lastIndex) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNITS[m[2]];
  }
  return sign * Math.round(total);
}

/** The closest known instruction to a typo (FORM → FROM), Docker-style. */
function suggest(word: string): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of INSTRUCTIONS) {
    const d = editDistance(word, k);
    if (d < bestDist) [best, bestDist] = [k, d];
  }
  return bestDist <= Math.min(2, Math.floor(word.length / 2)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

// ---------------------------------------------------------------------------
// Docker's word lexer (frontend/dockerfile/shell): quotes, the escape char and
// variable substitution, as applied to ENV, LABEL, ARG values, FROM, COPY/ADD,
// WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL (not to RUN/CMD/ENTRYPOINT, which
// the shell expands at run time).

class LexError extends Error {}

class Words {
  words: string[] = [];
  private cur = '';
  private inWord = false;
  /** A character that splits words when it is a blank (unquoted text, expanded values). */
  add(ch: string): void {
    if (!isSpace(ch)) this.raw(ch);
    else if (this.inWord && this.cur !== '') this.flush();
  }
  addAll(s: string): void {
    for (const ch of s) this.add(ch);
  }
  /** Quoted or escaped text: never splits. */
  raw(s: string): void {
    this.cur += s;
    this.inWord = true;
  }
  flush(): void {
    if (this.cur !== '') this.words.push(this.cur);
    this.cur = '';
    this.inWord = false;
  }
  done(): string[] {
    this.flush();
    return this.words;
  }
}

class Lexer {
  private pos = 0;
  /** Keep escape chars in the text (for ${VAR#pattern} and friends, whose patterns use them). */
  private rawEscapes = false;

  constructor(private readonly src: string, private readonly vars: Record<string, string> | null, private readonly escape: string) {}

  /** Reads up to `stop` (consumed) or the end; returns the processed text and its words. */
  run(stop: string | null = null, rawEscapes = false): { text: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let text = '';
      const words = new Words();
      while (this.pos < this.src.length) {
        const ch = this.src[this.pos];
        if (stop !== null && ch === stop) {
          this.pos++;
          return { text, words: words.done() };
        }
        if (ch === '$' && this.vars) {
          const v = this.dollar();
          text += v;
          words.addAll(v);
          continue;
        }
        if (ch === "'" || ch === '"') {
          const v = ch === "'" ? this.singleQuoted() : this.doubleQuoted();
          text += v;
          words.raw(v);
          continue;
        }
        this.pos++;
        if (ch === this.escape) {
          if (this.rawEscapes) {
            text += ch;
            words.raw(ch);
          }
          if (this.pos >= this.src.length) break; // a trailing escape char is dropped
          const next = this.src[this.pos++];
          text += next;
          words.raw(next);
        } else {
          text += ch;
          words.add(ch);
        }
      }
      if (stop !== null) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { text, words: words.done() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  /** '...': everything literal; no escapes. */
  private singleQuoted(): string {
    const end = this.src.indexOf("'", this.pos + 1);
    if (end < 0) throw new LexError('unexpected end of statement while looking for matching single-quote');
    const v = this.src.slice(this.pos + 1, end);
    this.pos = end + 1;
    return v;
  }

  /** "...": $ expands; the escape char escapes only ", $ and itself. */
  private doubleQuoted(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === undefined) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch === '$' && this.vars) {
        out += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === this.escape) {
        const next = this.src[this.pos];
        if (next === undefined) continue;
        if (this.rawEscapes) out += ch;
        if (next === '"' || next === '$' || next === this.escape) {
          out += next;
          this.pos++;
        } else if (!this.rawEscapes) {
          out += ch;
        }
        continue;
      }
      out += ch;
    }
  }

  private lookup(name: string): string | undefined {
    return this.vars && Object.hasOwn(this.vars, name) ? this.vars[name] : undefined;
  }

  private dollar(): string {
    this.pos++; // the $
    if (this.src[this.pos] !== '{') {
      const name = this.name();
      return name === '' ? '$' : (this.lookup(name) ?? '');
    }
    this.pos++; // the {
    const first = this.src[this.pos];
    if (first === undefined) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.name();
    let op = this.src[this.pos++];
    if (op === undefined) throw new LexError("syntax error: missing '}'");
    if (op === '}') return this.lookup(name) ?? '';
    const value = this.lookup(name);
    let colon = false;
    if (op === ':') {
      colon = true;
      op = this.src[this.pos++];
      if (op === undefined) throw new LexError("syntax error: missing '}'");
      if (!'-+?#%'.includes(op)) throw new LexError(`unsupported modifier (:${op}) in substitution`);
    }
    if ('-+?#%'.includes(op)) {
      const word = this.until('}', op === '#' || op === '%', "syntax error: missing '}'");
      const unset = value === undefined || (colon && value === '');
      switch (op) {
        case '-':
          return unset ? word : value!;
        case '+':
          return unset ? '' : word;
        case '?':
          if (value === undefined) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (colon && value === '') throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value;
        default: {
          const greedy = word.startsWith(op);
          const pattern = patternRegex(greedy ? word.slice(1) : word);
          return op === '#' ? trimPrefix(value ?? '', pattern, greedy) : trimSuffix(value ?? '', pattern, greedy);
        }
      }
    }
    if (op === '/') {
      const all = this.src[this.pos] === '/';
      if (all) this.pos++;
      const pattern = this.until('/', true, "syntax error: missing '/' in ${}");
      const replacement = this.until('}', true, "syntax error: missing '}'");
      const re = new RegExp(patternRegex(pattern), all ? 'g' : '');
      return (value ?? '').replace(re, () => replacement);
    }
    throw new LexError(`unsupported modifier (${op}) in substitution`);
  }

  private until(stop: string, rawEscapes: boolean, atEnd: string): string {
    try {
      return this.run(stop, rawEscapes).text;
    } catch (e) {
      if (e instanceof LexError && this.pos >= this.src.length) throw new LexError(atEnd);
      throw e;
    }
  }

  /** A variable name: letters, digits, _; or digits alone ($1); or one special parameter ($@, $#, ...). */
  private name(): string {
    const start = this.pos;
    const ch = this.src[this.pos];
    if (ch === undefined) return '';
    if (/[0-9]/.test(ch)) {
      while (/[0-9]/.test(this.src[this.pos] ?? '')) this.pos++;
    } else if ('@*#?-$!'.includes(ch)) {
      this.pos++;
    } else {
      while (this.pos < this.src.length && /[\p{L}\p{Nd}_]/u.test(this.src[this.pos])) this.pos++;
    }
    return this.src.slice(start, this.pos);
  }
}

/** A shell pattern (* any string, ? one char, \ escapes * ? \ and } /) as a regex source. */
function patternRegex(p: string): string {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\') {
      const n = p[i + 1];
      if (n === '}' || n === '/') continue; // escaped only for the ${...} syntax
      if (n !== '*' && n !== '?' && n !== '\\') throw new LexError(`invalid pattern (${p}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += `\\${n}`;
      i++;
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return out;
}

function trimPrefix(value: string, pattern: string, longest: boolean): string {
  const re = new RegExp(`^(?:${pattern})$`);
  for (let k = 0; k <= value.length; k++) {
    const j = longest ? value.length - k : k;
    if (re.test(value.slice(0, j))) return value.slice(j);
  }
  return value;
}

function trimSuffix(value: string, pattern: string, longest: boolean): string {
  const re = new RegExp(`^(?:${pattern})$`);
  for (let k = 0; k <= value.length; k++) {
    const i = longest ? k : value.length - k;
    if (re.test(value.slice(i))) return value.slice(0, i);
  }
  return value;
}

function lex<T>(text: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LexError) throw new SkiffError(`failed to process "${text}": ${e.message}`, BUILD_FAILED);
    throw e;
  }
}

/**
 * Docker's variable substitution in one word (its ProcessWord): $VAR, ${VAR},
 * ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt}, ${VAR:?msg},
 * ${VAR#pat}, ${VAR##pat}, ${VAR%pat}, ${VAR%%pat}, ${VAR/pat/rep}, ${VAR//pat/rep}.
 * Quotes are removed ('...' is literal, "..." expands), the escape char (\ or `)
 * escapes the next char (so \$ is a literal $), unknown variables expand to ''.
 * Blanks are kept. Errors are SkiffErrors without a location: prefix the line.
 */
export function expandVariables(text: string, vars: Record<string, string>, escape = '\\'): string {
  return lex(text, () => new Lexer(text, vars, escape).run().text);
}

/**
 * Docker's ProcessWords: substitutes like expandVariables(), then splits into
 * words on blanks outside quotes (blanks inside an expanded value split too,
 * as in a shell). For EXPOSE and the shell form of COPY/ADD/VOLUME.
 */
export function expandWords(text: string, vars: Record<string, string>, escape = '\\'): string[] {
  return lex(text, () => new Lexer(text, vars, escape).run().words);
}

/**
 * Splits shell-like words (COPY/ADD sources and dest, EXPOSE, VOLUME...),
 * honoring quotes (removed) and the escape char; `$` is left as is.
 */
export function splitWords(text: string, escape = '\\'): string[] {
  return lex(text, () => new Lexer(text, null, escape).run().words);
}
