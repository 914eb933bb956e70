// skiff's command line: a thin layer over the library in runtime/.
import { createRequire } from 'node:module';
import type { CommandModule } from 'yargs';
import { declaredBy, quickParse } from './quick-parse.js';
import { joinDashValues, knownFlagsOf, setCommandWords, splitAtImage, tableOf, valueFlagsOf } from './split.js';
import { COMMANDS } from './registry.js';
import { mark } from '../util/trace.js';
import { startMarked } from '../container/store.js';
import { fail } from './output.js';
import { skiffVersion } from './version.js';
import { diskFailure, SkiffError } from '../util/errors.js';
import { skiffRoot } from '../util/paths.js';
import { takeExplainFlag } from '../teach/explain.js';

/** Verbs whose flags stop at the first argument: what follows belongs to the container's command. */
const STOP_AT_IMAGE = new Set(['run', 'create', 'exec', 'top']);

/** A verb's module: its yargs command. */
export type CommandLoader = (verb: string) => Promise<{ default: CommandModule }>;

/**
 * Runs one skiff command line. LOAD gives the module of a verb: main.ts
 * imports it by name; a bundle made for one verb (tools/bundle.mjs) has it
 * already.
 */
export function runCli(argv: string[], load: CommandLoader): void {
  main(argv, load).catch((e: Error & { exitCode?: number }) => {
    const verb = argv[0];
    // An errno error naming a path inside skiff's root: say what failed and why, not where.
    if (!(e instanceof SkiffError) && e.message.includes(skiffRoot())) e = diskFailure(e, verb ?? 'skiff');
    fail(e.message.split('\n')[0], e.exitCode ?? 125, verb in COMMANDS ? verb : undefined);
  });
}

async function main(argv: string[], load: CommandLoader): Promise<void> {
  mark('cli-start');
  // What skiff makes (layer and state directories, a container's /etc files)
  // and the container's processes must not depend on the umask of the shell
  // that ran it: under a hardened 077, a non-root container user could not
  // even enter /. dockerd and podman force 022 for the same reason.
  process.umask(0o022);
  const verb = argv[0];
  if (verb === '--version' || verb === '-v') {
    process.stdout.write(`skiff version ${skiffVersion()}\n`);
    return;
  }
  if (verb && !verb.startsWith('-') && !(verb in COMMANDS)) {
    process.stderr.write(`skiff: '${verb}' is not a skiff command.\nSee 'skiff --help'\n`);
    process.exit(1);
  }
  // The next command after a killed one cleans up after it (one stat per container when there is nothing to do).
  if (verb in COMMANDS && verb !== 'registry') {
    const marked = startMarked();
    if (marked.length) await (await import('../container/recover.js')).recoverDeadStarts(marked);
  }
  let mod: { default: CommandModule } | undefined;
  if (verb in COMMANDS) mod = await load(verb);
  // What the verb's builder declares, recorded once for the split and the quick path.
  const declared = mod && declaredBy(mod.default.builder);
  if (declared && STOP_AT_IMAGE.has(verb)) {
    // Hand yargs only the flags and the image; keep the command words aside.
    const table = tableOf(declared);
    const values = valueFlagsOf(table);
    const [head, command] = splitAtImage(argv.slice(1), values, knownFlagsOf(table));
    argv = [verb, ...joinDashValues(takeExplainFlag(head), values)];
    setCommandWords(command);
  } else if (verb === 'start') {
    argv = [verb, ...takeExplainFlag(argv.slice(1))];
  }
  // Most lines never need yargs: see quick-parse.ts.
  const quick = mod && quickParse(mod.default, argv, declared);
  if (mod && quick) {
    await mod.default.handler(quick as never);
    return;
  }
  await yargsFor(argv, mod?.default).parseAsync();
}

/**
 * The yargs instance for a line the quick path leaves alone, and for --help:
 * loaded only then. COMMAND is the verb's module; without it, the top level
 * that lists every verb. The unit tests compare the quick path against it.
 */
export function yargsFor(argv: string[], command?: CommandModule) {
  // From node_modules, and only here: the bundle leaves yargs out
  // (tools/bundle.mjs), as most lines never need it.
  const yargs = createRequire(import.meta.url)('yargs/yargs') as typeof import('yargs').default;
  const verb = argv[0];
  const help = argv.includes('--help');
  const y = yargs(argv)
    .scriptName('skiff')
    .usage('Usage: skiff COMMAND\n\nA small container runtime you can read in an afternoon.')
    .strict()
    .help('help')
    .version(false)
    .parserConfiguration({ 'greedy-arrays': false })
    // On a terminal, fit it; into a pipe or file, do not wrap (yargs would cut
    // words). Only help is wrapped: no other command pays for a look at stdout.
    .wrap(help && process.stdout.isTTY && process.stdout.columns ? Math.min(110, process.stdout.columns) : null)
    .demandCommand(1, 'a command is required')
    .fail((msg, err) => {
      if (err) throw err;
      fail(usageMessage(msg), 125, verb in COMMANDS ? verb : undefined);
    });
  // yargs formats the whole help of the command it runs, every time, in case
  // a handler asks for it later: ~5 ms for run's 60 flags. skiff's handlers
  // never do, and failures print one line (fail() above), so that help is
  // only made when --help asks for it (the Angular CLI does the same).
  if (!help) {
    const internal = (y as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } }).getInternalMethods();
    internal.getUsageInstance().cacheHelpMessage = () => {};
  }
  if (command) {
    y.command(command);
  } else {
    // Handled above; declared so that the top-level --help lists it.
    y.option('version', { alias: 'v', type: 'boolean', describe: 'Print version information and quit' });
    for (const [name, describe] of Object.entries(COMMANDS)) y.command(name, describe);
  }
  return y;
}

/** yargs says "Unknown arguments: foo"; Docker says "unknown flag: --foo". */
function usageMessage(msg: string): string {
  const m = msg.match(/^Unknown arguments?: (.*)$/);
  if (m) {
    const first = m[1].split(', ')[0];
    return `unknown flag: ${first.length === 1 ? `-${first}` : `--${first}`}`;
  }
  return msg;
}
