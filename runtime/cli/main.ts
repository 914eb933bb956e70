#!/usr/bin/env -S node --
// skiff's command line. The work is in cli.ts; this entry loads the module of
// the verb being run, by name (the bundle for a single verb skips this file).
import type { CommandModule } from 'yargs';
import { runCli } from './cli.js';

runCli(process.argv.slice(2), (verb) => import(`./commands/${verb}.js`) as Promise<{ default: CommandModule }>);
