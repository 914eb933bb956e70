#!/usr/bin/env -S node --
// skiff-runc: runc's command line over skiff's engine, for containerd,
// podman and Docker (and the OCI conformance suite). One file per verb.
import { ConfigError } from '../config.js';
import { RuncError } from '../state.js';
import { fatal, parseGlobals, UsageError, type Globals, type Verb } from './args.js';

const VERBS = ['create', 'start', 'run', 'state', 'list', 'kill', 'delete', 'ps', 'pause', 'resume', 'exec', 'features', 'spec', 'update', 'version', 'help'];

const USAGE = `usage: skiff-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [ARGS]
commands: ${VERBS.join(', ')}
`;

async function main(argv: string[]): Promise<number> {
  let g: Globals = { root: '/run/skiff-runc', logFormat: 'text', debug: false };
  try {
    const parsed = parseGlobals(argv);
    g = parsed.g;
    const [verb, ...rest] = parsed.rest;
    if (!verb || verb === 'help') {
      process.stdout.write(USAGE);
      return verb ? 0 : 1;
    }
    if (!VERBS.includes(verb)) throw new UsageError(`No help topic for '${verb}'`);
    const mod = (await import(`./${verb}.js`)) as { default: Verb };
    return await mod.default(rest, g);
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    if (!(err instanceof RuncError || err instanceof ConfigError || err instanceof UsageError) && g.debug) fatal(g, err.stack ?? err.message);
    else fatal(g, err.message.split('\n')[0]);
    return err instanceof RuncError || err instanceof UsageError ? err.exitCode : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
