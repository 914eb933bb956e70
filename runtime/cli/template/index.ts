/*
 * Go text/template, as used by `skiff inspect -f` and the --format of the list commands.
 *
 * Why not a library: @ctrl/golang-template 2.0.1 was evaluated and rejected. It has no
 * pipelines (`{{.Name | upper}}` renders ""), no custom functions (so no Docker `json`, `upper`,
 * ...), no `println`, no variables and no trim markers, and prints slices as "a,b" and maps as
 * "[object Object]" where Go prints "[a b]" and "map[k:v]". Wrapping it would have meant
 * rewriting most of it, so this module has its own small lexer -> parser (AST) -> evaluator that
 * follows Go's text/template and the function set of Docker's templates package
 * (docker/cli templates/templates.go: json, split, join, title, lower, upper, pad, truncate).
 *
 * Value model: plain objects behave as Go map[string]interface{}, arrays as []interface{}.
 * `undefined` (a missing key) is Go's "no value" and prints "<no value>". `null` is a Go nil
 * and prints "<nil>". Errors are TemplateErrors whose message reads like Docker's
 * "template parsing error: template: :1: function \"foo\" not defined".
 * The `table` prefix and the `\t`/`\n` escape replacement belong to the callers (../listing.ts).
 *
 * Files: lex.ts (text -> tokens), parse.ts (tokens -> tree), exec.ts (tree + data -> text),
 * values.ts (Go's value model and %v printing), funcs.ts (built-in and Docker functions),
 * errors.ts (Go's error wording).
 */
import { TemplateError } from './errors.js';
import { Exec } from './exec.js';
import { BUILTINS } from './funcs.js';
import { lex } from './lex.js';
import { Parser, type Node } from './parse.js';
import type { FuncDef, TemplateFunc } from './values.js';

export { TemplateError } from './errors.js';
export { DOCKER_HEADER_FUNCS, goQuote } from './funcs.js';
export { fmtValue, goStruct, type TemplateFunc } from './values.js';

export interface GoTemplateOptions {
  /** Extra functions, or replacements for built-in ones (for example DOCKER_HEADER_FUNCS). */
  funcs?: Record<string, TemplateFunc>;
  /** 'error' makes a missing map key an error, like Go's Option("missingkey=error"). */
  missingKey?: 'default' | 'error';
}

export interface GoTemplate {
  execute(data: unknown): string;
  /**
   * The same template with some functions replaced, such as a listing's
   * header run over the column names (DOCKER_HEADER_FUNCS): no second parse.
   */
  withFuncs(funcs: Record<string, TemplateFunc>): GoTemplate;
}

/** Parses `source` once. Use this to render many rows, e.g. for `ps --format`. */
export function compileGoTemplate(source: string, options: GoTemplateOptions = {}): GoTemplate {
  const funcs = new Map<string, FuncDef>(Object.entries(BUILTINS));
  for (const [name, fn] of Object.entries(options.funcs ?? {})) funcs.set(name, { fn });
  const tree = new Parser(source, lex(source), funcs).parse();
  return compiled(source, tree, funcs, options.missingKey === 'error');
}

function compiled(source: string, tree: Node[], funcs: Map<string, FuncDef>, missingKeyError: boolean): GoTemplate {
  return {
    execute: (data) => new Exec(source, funcs, missingKeyError, data).run(tree),
    withFuncs: (replaced) => {
      const merged = new Map(funcs);
      for (const [name, fn] of Object.entries(replaced)) merged.set(name, { fn });
      return compiled(source, tree, merged, missingKeyError);
    },
  };
}

export function formatGoTemplate(template: string, data: unknown, options?: GoTemplateOptions): string {
  return compileGoTemplate(template, options).execute(data);
}
