// skiff-runc create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID
import { create } from '../container.js';
import { needId, parseArgs, type Verb } from './args.js';

export const CREATE_VALUES = ['bundle', 'pid-file', 'console-socket', 'preserve-fds'];
export const CREATE_BOOLS = ['no-pivot', 'no-new-keyring'];
export const CREATE_ALIAS = { b: 'bundle' };

export function createOptions(flags: Record<string, string | boolean>, id: string, root: string) {
  const preserve = Number(flags['preserve-fds'] ?? 0);
  // Extra descriptors (3..3+N-1) would need a wider fd table in the helper; only 0 is accepted.
  if (preserve) throw new Error('--preserve-fds is not supported by skiff-runc');
  return {
    root, id, bundle: (flags.bundle as string | undefined) ?? process.cwd(),
    ...(typeof flags['pid-file'] === 'string' ? { pidFile: flags['pid-file'] } : {}),
    ...(typeof flags['console-socket'] === 'string' ? { consoleSocket: flags['console-socket'] } : {}),
  };
}

const verb: Verb = async (argv, g) => {
  const { flags, args } = parseArgs(argv, CREATE_VALUES, CREATE_BOOLS, CREATE_ALIAS);
  await create(createOptions(flags, needId(args, 'create'), g.root));
  return 0;
};
export default verb;
