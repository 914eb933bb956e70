// skiff-runc exec [--process FILE] [--tty] [--console-socket S] [--detach] [--pid-file F] [--cwd D] [--env K=V]... [--user UID[:GID]] ID [COMMAND...]
import { exec } from '../exec.js';
import { list, parseArgs, UsageError, type Verb } from './args.js';

const verb: Verb = async (argv, g) => {
  const { flags, args } = parseArgs(argv,
    ['process', 'console-socket', 'pid-file', 'cwd', 'env', 'user', 'cap', 'additional-gids', 'process-label', 'apparmor', 'preserve-fds', 'cgroup'],
    ['tty', 'detach', 'no-new-privs', 'ignore-paused'], { p: 'process', t: 'tty', d: 'detach', e: 'env', u: 'user', c: 'cap', g: 'additional-gids' }, true);
  if (args.length < 1) throw new UsageError('"exec" requires a minimum of 1 argument');
  const [id, ...cmd] = args;
  return exec({
    root: g.root, id, args: cmd, tty: flags.tty === true, detach: flags.detach === true, env: list(flags.env), capAdd: list(flags.cap),
    ...(typeof flags.process === 'string' ? { processFile: flags.process } : {}),
    ...(typeof flags['console-socket'] === 'string' ? { consoleSocket: flags['console-socket'] } : {}),
    ...(typeof flags['pid-file'] === 'string' ? { pidFile: flags['pid-file'] } : {}),
    ...(typeof flags.cwd === 'string' ? { cwd: flags.cwd } : {}),
    ...(typeof flags.user === 'string' ? { user: flags.user } : {}),
    ...(flags['no-new-privs'] === true ? { noNewPrivs: true } : {}),
  });
};
export default verb;
