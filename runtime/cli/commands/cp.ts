// `skiff cp`: copies files between a container (running or stopped) and the
// host, with Docker's rules for where they land (container/cp.ts).
import { isatty } from 'node:tty';
import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { SkiffError } from '../../util/errors.js';
import { humanSize } from '../humanize.js';

interface Args { src: string; dest: string; archive?: boolean; 'follow-link'?: boolean; quiet?: boolean }

/** CONTAINER:PATH, or a host path: one that starts with / or . is always the host's, as in Docker. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

const cmd: CommandModule<object, Args> = {
  // A lone "-" (a tar on stdin or stdout) reaches the handler through the quick
  // parser (quick-parse.ts); yargs itself would turn it into "".
  command: 'cp <src> <dest>',
  describe: 'Copy files/folders between a container and the local filesystem',
  builder: (y) => y
    .positional('src', { type: 'string', demandOption: true, describe: 'CONTAINER:SRC_PATH, or SRC_PATH|- (a tar on stdin) on the host' })
    .positional('dest', { type: 'string', demandOption: true, describe: 'CONTAINER:DEST_PATH, or DEST_PATH|- (a tar on stdout) on the host' })
    .option('archive', { alias: 'a', type: 'boolean', describe: 'Archive mode (copy all uid/gid information)' })
    .option('follow-link', { alias: 'L', type: 'boolean', describe: 'Always follow symbol link in SRC_PATH' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Suppress progress output during copy (progress is shown only on a terminal)' }) as never,
  handler: async (a) => {
    const src = splitCpArg(String(a.src));
    const dest = splitCpArg(String(a.dest));
    if (src.container && dest.container) throw new SkiffError('copying between containers is not supported', 1);
    if (!src.container && !dest.container) throw new SkiffError('must specify at least one container source', 1);
    const path = (src.container ? src : dest).path;
    if (!path) throw new SkiffError('filepath can not be empty', 1);
    const rec = findLive((src.container ?? dest.container)!);
    const cp = await import('../../container/cp.js');
    const opts = { archive: a.archive, followLink: a['follow-link'] };
    let bytes: number | undefined;
    try {
      if (src.container) {
        if (dest.path === '-') await cp.archiveFromContainer(rec, src.path, process.stdout, opts);
        else bytes = await cp.copyFromContainer(rec, src.path, dest.path, opts);
      } else if (src.path === '-') {
        await cp.extractToContainer(rec, process.stdin, dest.path);
      } else {
        bytes = await cp.copyToContainer(rec, src.path, dest.path, opts);
      }
    } catch (e) {
      // Docker's cp exits 1 whatever went wrong, and names the container it looked in.
      if (!(e instanceof SkiffError)) throw e;
      throw new SkiffError(/ in container$/.test(e.message) ? `${e.message} ${src.container ?? dest.container}` : e.message, 1);
    }
    if (bytes !== undefined && !a.quiet && isatty(2)) {
      const where = src.container ? dest.path : `${dest.container}:${dest.path}`;
      process.stderr.write(`Successfully copied ${humanSize(bytes)} to ${where}\n`);
    }
  },
};
export default cmd;
