// `skiff run [flags] IMAGE [COMMAND...]`: flags after the image belong to the
// command, so argv is split at the image before yargs sees it. To know where
// the image is, we must know which flags consume a value (`-e X`, `-m 1g`).

import { SkiffError } from '../util/errors.js';
import { declaredBy, type Declared } from './quick-parse.js';

/**
 * Index of the first non-flag word in `args`, or args.length. With `known`,
 * an unknown flag is an error here: otherwise it would swallow the image as
 * its value.
 */
export function imageIndex(args: string[], valueFlags: Set<string>, known?: Set<string>): number {
  const check = (name: string, shown: string) => {
    if (known && !known.has(name)) throw new SkiffError(`unknown flag: ${shown}`);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return i + 1;
    if (a === '-' || !a.startsWith('-')) return i;
    if (a.startsWith('--')) {
      const name = a.slice(2).split('=')[0];
      check(name, `--${name}`);
      if (!a.includes('=') && valueFlags.has(name)) i++;
      continue;
    }
    // A cluster of short flags, e.g. -it or -e FOO=1 or -eFOO=1.
    for (let c = 1; c < a.length; c++) {
      check(a[c], `-${a[c]}`);
      if (valueFlags.has(a[c])) {
        if (c === a.length - 1) i++;
        break;
      }
    }
  }
  return args.length;
}

/** Splits at the image: [flags + image, command words]. A `--` before the image is dropped. */
export function splitAtImage(args: string[], valueFlags: Set<string>, known?: Set<string>): [string[], string[]] {
  const i = imageIndex(args, valueFlags, known);
  const head = args.slice(0, i + 1).filter((a, k) => !(a === '--' && k === i - 1));
  return [head, args.slice(i + 1)];
}

export type OptionTable = { boolean: string[]; string: string[]; number: string[]; array: string[]; alias: Record<string, string[]> };

/**
 * The option table a command's yargs builder declares, read by running the
 * builder against a recorder (quick-parse.ts) instead of a yargs instance:
 * yargs would spend 4-7 ms on `run`'s 60 options before it parses anything.
 * A unit test checks it against yargs' own table.
 */
export function optionTableOf(builder: (y: never) => unknown): OptionTable {
  return tableOf(declaredBy(builder));
}

/** The option table of what a builder declared (declaredBy). */
export function tableOf({ options, positionals }: Declared): OptionTable {
  // As yargs' table: its own --help and --version among the booleans, and each option's aliases filed with it.
  const table: OptionTable = { boolean: ['help', 'version'], string: [], number: [], array: [], alias: {} };
  // yargs files a positional in the same table as an option.
  for (const [name, spec] of [...Object.entries(options), ...Object.entries(positionals)]) {
    const aliases = spec.alias === undefined ? [] : ([] as string[]).concat(spec.alias);
    if (spec.type === 'boolean' || spec.type === 'string' || spec.type === 'number') table[spec.type].push(name, ...aliases);
    if (spec.array) table.array.push(name, ...aliases);
    if (aliases.length) table.alias[name] = aliases;
  }
  return table;
}

/** Every flag name and alias in a yargs option table, plus help. */
export function knownFlagsOf(opts: OptionTable): Set<string> {
  const names = new Set(['help', ...opts.boolean, ...opts.string, ...opts.number, ...opts.array]);
  for (const [name, aliases] of Object.entries(opts.alias)) [name, ...aliases].forEach((x) => names.add(x));
  // yargs accepts both spellings of dashed names and --no-X for booleans.
  for (const n of [...names]) {
    names.add(n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
    if (opts.boolean.includes(n)) names.add(`no-${n}`);
  }
  return names;
}

/** Flags that take a value, read from a yargs instance's option table (names and aliases). */
export function valueFlagsOf(opts: OptionTable): Set<string> {
  const names = new Set([...opts.string, ...opts.number, ...opts.array]);
  for (const [name, aliases] of Object.entries(opts.alias)) {
    if (names.has(name) || aliases.some((x) => names.has(x))) {
      names.add(name);
      aliases.forEach((x) => names.add(x));
    }
  }
  return names;
}

/**
 * yargs takes a word starting with '-' for a flag even where a value is due
 * (`-m -5m`, `--name -x`), and then reports a missing argument. Docker's
 * parser gives the flag that word; joining them as `--flag=word` does the same.
 */
export function joinDashValues(args: string[], valueFlags: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = args[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : /^-[^-]$/.test(a) ? a.slice(1) : undefined;
    if (name !== undefined && !a.includes('=') && valueFlags.has(name) && next !== undefined && next.startsWith('-') && next !== '--') {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

let commandWords: string[] = [];
/** cli.ts splits argv at the image; the words after it arrive here untouched by yargs. */
export function setCommandWords(words: string[]): void {
  commandWords = words;
}
export function getCommandWords(): string[] {
  return commandWords;
}
