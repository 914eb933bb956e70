import type { CommandModule } from 'yargs';
import { build } from '../../build/builder.js';
import { normalizeReference } from '../../image/reference.js';
import { ImageStore } from '../../image/store.js';
import { SkiffError } from '../../util/errors.js';

interface Args { context: string; tag?: string[]; file?: string; 'build-arg'?: string[]; cache: boolean; target?: string; quiet: boolean; network: string }

const cmd: CommandModule<object, Args> = {
  command: 'build <context>',
  describe: 'Build an image from a Dockerfile',
  builder: (y) => y
    .positional('context', { type: 'string', demandOption: true, describe: 'The build context directory' })
    .option('tag', { alias: 't', type: 'string', array: true, describe: 'Name and optionally a tag in the name:tag format' })
    .option('file', { alias: 'f', type: 'string', describe: "Name of the Dockerfile (default: 'CONTEXT/Dockerfile')" })
    .option('build-arg', { type: 'string', array: true, describe: 'Set build-time variables (NAME=VALUE)' })
    // yargs reads --no-cache as the negation of --cache.
    .option('cache', { type: 'boolean', default: true, describe: 'Use the build cache (--no-cache: do not)' })
    .option('target', { type: 'string', describe: 'Set the target build stage to build' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Suppress the build output and print image ID on success' })
    .option('network', { type: 'string', default: 'none', describe: 'Networking mode for the RUN instructions: none (default), bridge or host' }) as never,
  handler: async (a) => {
    const buildArgs = Object.fromEntries((a['build-arg'] ?? []).map((kv) => {
      const i = kv.indexOf('=');
      if (i < 0) {
        const v = process.env[kv];
        if (v === undefined) throw new SkiffError(`--build-arg ${kv}: not set in the environment; use NAME=VALUE`);
        return [kv, v];
      }
      return [kv.slice(0, i), kv.slice(i + 1)];
    }));
    const tags = (a.tag ?? []).map((t) => normalizeReference(t));
    await build(new ImageStore(), {
      context: a.context, dockerfile: a.file, tags, buildArgs, noCache: !a.cache, target: a.target, quiet: a.quiet,
      network: a.network, out: process.stdout,
    });
  },
};
export default cmd;
