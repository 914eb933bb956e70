// A verb's command line read without yargs, on the hot path of every command.
//
// yargs builds an instance, declares the verb's options, parses, validates and
// dispatches: ~7 ms of every `skiff ps` with loading its 170 KB. The verb's
// builder runs here against a recorder instead, and yargs-parser, the parser
// inside yargs, reads the words with the options yargs would hand it. Only a
// line yargs would take without a word of its own comes out: for --help, an
// unknown flag, a missing or extra argument, a value outside its choices, the
// answer is undefined and cli.ts hands the line to yargs, which says what is
// wrong as it always did. A unit test compares both on every verb.
import type { CommandModule } from 'yargs';
import parser from 'yargs-parser';

/** The keys of an option a builder may declare, as yargs' option() reads them. */
export interface OptionSpec {
  type?: string;
  alias?: string | string[];
  default?: unknown;
  array?: boolean;
  requiresArg?: boolean;
  choices?: unknown[];
  demandOption?: boolean | string;
  describe?: string;
  hidden?: boolean;
}

/** What a builder declares: its options, its positionals, and any other call by name. */
export interface Declared {
  options: Record<string, OptionSpec>;
  positionals: Record<string, OptionSpec>;
  others: string[];
}

/** Keys the quick path understands; an option with any other (coerce, conflicts…) is left to yargs. */
const OPTION_KEYS = new Set(['type', 'alias', 'default', 'array', 'requiresArg', 'choices', 'demandOption', 'describe', 'hidden']);
/** yargs' positional() keeps only some keys; these are the ones skiff's builders use. */
const POSITIONAL_KEYS = new Set(['type', 'array', 'demandOption', 'describe']);

/**
 * Runs BUILDER against a recorder: `.option()` and `.positional()` are noted,
 * every other call by its name (cli/split.ts reads run's flags from it too).
 */
export function declaredBy(builder: unknown): Declared {
  const declared: Declared = { options: {}, positionals: {}, others: [] };
  if (builder && typeof builder === 'object') {
    declared.options = { ...(builder as Record<string, OptionSpec>) };
    return declared;
  }
  const recorder: Record<string | symbol, unknown> = new Proxy({}, {
    get: (_t, method) => (...args: unknown[]) => {
      if (method === 'option' || method === 'options' || method === 'positional') {
        const specs = typeof args[0] === 'string' ? { [args[0]]: (args[1] ?? {}) as OptionSpec } : (args[0] as Record<string, OptionSpec>);
        Object.assign(method === 'positional' ? declared.positionals : declared.options, specs);
      } else {
        declared.others.push(String(method));
      }
      return recorder;
    },
  });
  if (typeof builder === 'function') builder(recorder);
  return declared;
}

/** A positional of the command string: `<name>`, `[name]`, `<names..>`. */
interface Slot { name: string; required: boolean; variadic: boolean }

/** The slots of a command string such as 'inspect <names..>', or undefined for what the quick path leaves to yargs. */
function slotsOf(command: string): Slot[] | undefined {
  const slots: Slot[] = [];
  for (const word of command.trim().split(/\s+/).slice(1)) {
    const m = /^(<|\[)([a-z][a-z0-9-]*)(\.\.)?(>|\])$/i.exec(word);
    if (!m || (m[1] === '<') !== (m[4] === '>')) return undefined;
    slots.push({ name: m[2], required: m[1] === '<', variadic: !!m[3] });
  }
  return slots;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The argv yargs would hand COMMAND's handler for WORDS (the verb first), or
 * undefined when the line is for yargs: help, subcommands, or any line yargs
 * would answer with an error. DECLARED is what the builder declares, when the
 * caller has read it already.
 */
export function quickParse(command: CommandModule, words: string[], declared = declaredBy(command.builder)): Record<string, unknown> | undefined {
  const [verb, ...args] = words;
  if (typeof command.command !== 'string' || command.aliases || args.includes('--') || args.includes('--help')) return undefined;
  const slots = slotsOf(command.command);
  if (!slots || declared.others.length) return undefined;
  const specs = Object.entries(declared.options);
  if (specs.some(([, s]) => Object.keys(s).some((k) => !OPTION_KEYS.has(k)))) return undefined;
  if (Object.values(declared.positionals).some((s) => Object.keys(s).some((k) => !POSITIONAL_KEYS.has(k)) || (s.type && s.type !== 'string'))) return undefined;

  // The options yargs' option() makes of each spec, plus its own --help.
  const opts = { alias: {} as Record<string, string[]>, array: [] as string[], boolean: ['help'], string: [] as string[], number: [] as string[], default: {} as Record<string, unknown>, narg: {} as Record<string, number> };
  const known = new Set(['help']);
  for (const [name, spec] of [...specs, ...Object.entries(declared.positionals)]) {
    const aliases = spec.alias === undefined ? [] : ([] as string[]).concat(spec.alias);
    for (const n of [name, ...aliases]) known.add(n).add(camel(n));
    if (aliases.length) opts.alias[name] = aliases;
    if ('default' in spec) opts.default[name] = spec.default;
    if (spec.type === 'boolean' || spec.type === 'string' || spec.type === 'number') opts[spec.type].push(name, ...aliases);
    else if (spec.type !== undefined) return undefined;
    if (name in declared.positionals) continue; // yargs' positional() drops array and the rest
    if (spec.array) opts.array.push(name, ...aliases);
    if (spec.requiresArg) opts.narg[name] = NaN;
  }
  let argv: Record<string, unknown> & { _: (string | number)[] };
  if (args.some((a) => a.startsWith('-'))) {
    const parsed = parser.detailed(args, { ...opts, configuration: { 'greedy-arrays': false, 'parse-positional-numbers': false } });
    if (parsed.error) return undefined;
    argv = parsed.argv as typeof argv;
  } else {
    // No flag at all (`skiff ps`, `skiff rm web`): the defaults under every
    // name yargs-parser would give them, without its first call (~1.4 ms).
    argv = { _: [...args] };
    for (const [name, value] of Object.entries(opts.default)) {
      for (const n of [name, ...(opts.alias[name] ?? [])]) argv[n] = argv[camel(n)] = value;
    }
  }

  // What strict yargs refuses: a flag it does not know, a missing demanded
  // option, a value outside its choices.
  if (Object.keys(argv).some((k) => k !== '_' && !known.has(k))) return undefined;
  for (const [name, spec] of specs) {
    const value = argv[name];
    if (spec.demandOption && value === undefined) return undefined;
    if (spec.choices && value !== undefined && ([] as unknown[]).concat(value).some((v) => !spec.choices!.includes(v))) return undefined;
  }

  // Positionals, in the order of the command string; too few or too many is yargs' to say.
  const rest = argv._.map(String);
  if (rest.length < slots.filter((s) => s.required).length) return undefined;
  if (!slots.some((s) => s.variadic) && rest.length > slots.length) return undefined;
  for (const slot of slots) {
    let value: string | string[] | undefined;
    if (slot.variadic) value = rest.splice(0);
    else if (rest.length) value = rest.shift();
    if (value === undefined) continue; // an absent [name..] is [], an absent [name] is absent
    argv[slot.name] = value;
    if (slot.name.includes('-')) argv[camel(slot.name)] = value;
  }
  argv._ = [verb];
  argv.$0 = 'skiff';
  return argv;
}
