// The quick path (cli/quick-parse.ts) must hand every verb's handler what
// yargs would, or step aside. Each verb's lines are made from what its own
// builder declares: every flag in each of its spellings, and lines that
// yargs refuses.
import test from 'ava';
import type { CommandModule } from 'yargs';
import { yargsFor } from '../../runtime/cli/cli.js';
import { declaredBy, quickParse, type OptionSpec } from '../../runtime/cli/quick-parse.js';
import { COMMANDS } from '../../runtime/cli/registry.js';

/** What yargs hands the handler for WORDS, or the message it fails with. */
async function viaYargs(command: CommandModule, words: string[]): Promise<Record<string, unknown> | { failed: string }> {
  let got: Record<string, unknown> | undefined;
  const y = yargsFor(words, { ...command, handler: (a) => void (got = a) })
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    });
  try {
    await y.parseAsync();
  } catch (e) {
    return { failed: (e as Error).message };
  }
  return got ?? { failed: 'no handler ran' };
}

const sample = (spec: OptionSpec, k = 0): string => (spec.choices ? String(spec.choices[0]) : spec.type === 'number' ? String(3 + k) : `v${k}`);

/** Lines for VERB: its positionals filled, then each flag in each spelling, then lines yargs refuses. */
function linesFor(verb: string, command: CommandModule): string[][] {
  const { options } = declaredBy(command.builder);
  const slots = String(command.command).split(/\s+/).slice(1);
  const required = slots.filter((s) => s.startsWith('<')).map((_, i) => `p${i}`);
  const base = [verb, ...required];
  const lines: string[][] = [base, [...base, 'extra1', 'extra2'], [...base, '--bogus'], [...base, '-Z'], [verb, '--help']];
  if (required.length) lines.push([verb]);
  if (slots.some((s) => s.startsWith('['))) lines.push([...base, 'opt1']);
  for (const [name, spec] of Object.entries(options)) {
    const aliases = spec.alias === undefined ? [] : ([] as string[]).concat(spec.alias);
    for (const flag of [name, ...aliases]) {
      const dash = flag.length === 1 ? `-${flag}` : `--${flag}`;
      if (spec.type === 'boolean') {
        lines.push([...base, dash]);
        if (flag.length > 1) lines.push([...base, `--no-${flag}`], [...base, `${dash}=false`]);
        continue;
      }
      lines.push([...base, dash, sample(spec)], [...base, dash]);
      if (flag.length > 1) lines.push([...base, `${dash}=${sample(spec)}`]);
      if (spec.array) lines.push([...base, dash, sample(spec), dash, sample(spec, 1)]);
      if (spec.choices) lines.push([...base, dash, 'not-a-choice']);
    }
  }
  return lines;
}

for (const verb of Object.keys(COMMANDS)) {
  test(`${verb}: the quick path gives the handler what yargs gives it, or leaves the line to yargs`, async (t) => {
    const command = ((await import(`../../runtime/cli/commands/${verb}.js`)) as { default: CommandModule }).default;
    let quick = 0;
    for (const words of linesFor(verb, command)) {
      const mine = quickParse(command, words);
      if (!mine) continue;
      quick++;
      const theirs = await viaYargs(command, words);
      t.deepEqual(mine, theirs, `skiff ${words.join(' ')}`);
    }
    // Verbs with subcommands go to yargs; every other verb takes the quick path for plain lines.
    const subcommands = declaredBy(command.builder).others.includes('command');
    t.is(quick > 0, !subcommands, `lines of ${verb} taken by the quick path: ${quick}`);
  });
}

test('the lines people type every day take the quick path', (t) => {
  const ps = { command: 'ps', builder: (y: never) => y, handler: () => {} } as unknown as CommandModule;
  t.truthy(quickParse(ps, ['ps']));
  t.is(quickParse(ps, ['ps', '--help']), undefined);
  t.is(quickParse(ps, ['ps', 'stray']), undefined);
});
