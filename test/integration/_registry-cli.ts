// Runs one registry verb (pull, push, login, logout, search) the way
// runtime/cli/main.ts does: the verb's command module under yargs, errors
// printed as `skiff: message` with the error's exit code. The tests use it
// until the verbs are in the CLI's command list.
import yargs, { type CommandModule } from 'yargs';

const verb = process.argv[2];
if (!['pull', 'push', 'login', 'logout', 'search'].includes(verb)) {
  process.stderr.write(`skiff: '${verb}' is not a registry verb\n`);
  process.exit(1);
}
try {
  const mod = (await import(`../../runtime/cli/commands/${verb}.js`)) as { default: CommandModule };
  await yargs(process.argv.slice(2))
    .scriptName('skiff')
    .strict()
    .version(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .command(mod.default)
    .parseAsync();
} catch (e) {
  const err = e as Error & { exitCode?: number };
  process.stderr.write(`skiff: ${err.message}\n`);
  process.exit(err.exitCode ?? 125);
}
