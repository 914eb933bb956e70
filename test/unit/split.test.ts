import test from 'ava';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { imageIndex, knownFlagsOf, optionTableOf, splitAtImage, valueFlagsOf } from '../../runtime/cli/split.js';
import run from '../../runtime/cli/commands/run.js';
import create from '../../runtime/cli/commands/create.js';
import exec from '../../runtime/cli/commands/exec.js';

const table = {
  boolean: ['interactive', 'tty', 'rm', 'detach'],
  string: ['name', 'env', 'memory', 'workdir'],
  number: ['pids-limit'],
  array: ['env'],
  alias: { interactive: ['i'], tty: ['t'], env: ['e'], memory: ['m'], detach: ['d'], workdir: ['w'] },
};
const values = valueFlagsOf(table);
const known = knownFlagsOf(table);

test('flags after the image belong to the command', (t) => {
  t.deepEqual(splitAtImage(['-it', '--rm', 'busybox', 'ls', '-la', '--rm'], values), [['-it', '--rm', 'busybox'], ['ls', '-la', '--rm']]);
});

test('value flags consume their value in every spelling', (t) => {
  t.is(imageIndex(['-e', 'A=1', '--name', 'x', '-m', '1g', 'img'], values), 6);
  t.is(imageIndex(['-eA=1', '--name=x', 'img'], values), 2);
  t.is(imageIndex(['-de', 'A=1', 'img', 'cmd'], values), 2);
  t.is(imageIndex(['--pids-limit', '10', 'img'], values), 2);
  t.is(imageIndex(['-w', '/tmp', 'img'], values), 2);
});

test('"--" ends the flags and is dropped', (t) => {
  t.deepEqual(splitAtImage(['--rm', '--', 'img', '--x'], values), [['--rm', 'img'], ['--x']]);
});

test('an unknown flag is an error before it can swallow the image', (t) => {
  t.throws(() => imageIndex(['--bogus', 'busybox'], values, known), { message: 'unknown flag: --bogus' });
  t.throws(() => imageIndex(['-iz', 'busybox'], values, known), { message: 'unknown flag: -z' });
  t.is(imageIndex(['--no-rm', '--help', 'img'], values, known), 2);
});

test('no image: index is the end', (t) => {
  t.is(imageIndex(['-it'], values), 1);
});

test('the recorded option table of run, create and exec gives the flags yargs itself declares', (t) => {
  for (const [name, mod] of Object.entries({ run, create, exec }) as Array<[string, CommandModule]>) {
    const builder = mod.builder as (y: Argv) => Argv;
    const real = (builder(yargs([])) as unknown as { getOptions(): Parameters<typeof knownFlagsOf>[0] }).getOptions();
    const recorded = optionTableOf(builder as (y: never) => unknown);
    t.deepEqual([...knownFlagsOf(recorded)].sort(), [...knownFlagsOf(real)].sort(), `${name}: known flags`);
    t.deepEqual([...valueFlagsOf(recorded)].sort(), [...valueFlagsOf(real)].sort(), `${name}: flags that take a value`);
    t.true(valueFlagsOf(recorded).has('e') && knownFlagsOf(recorded).has('interactive'), `${name}: -e takes a value, --interactive is known`);
  }
});
