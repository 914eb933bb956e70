// skiff-runc's argument parsing and error output, as runc (urfave/cli and logrus) does them.
import { appendFileSync } from 'node:fs';
import { DEFAULT_ROOT } from '../state.js';

export interface Globals { root: string; log?: string; logFormat: 'text' | 'json'; debug: boolean }

export interface Parsed { flags: Record<string, string | boolean>; args: string[] }

/**
 * Parses ARGV against the verb's flags: VALUE takes a value (--x v, --x=v, -x v), BOOL does not.
 * Flags stop at the first positional when STOP is set (exec: the command's own flags follow).
 */
export function parseArgs(argv: string[], value: string[], bool: string[], alias: Record<string, string> = {}, stop = false): Parsed {
  const flags: Record<string, string | boolean> = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-' || (stop && args.length)) {
      args.push(a);
      if (stop) {
        args.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    let name = a.replace(/^--?/, '');
    let val: string | undefined;
    if (name.includes('=')) [name, val] = [name.slice(0, name.indexOf('=')), name.slice(name.indexOf('=') + 1)];
    name = alias[name] ?? name;
    if (value.includes(name)) {
      if (val === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: ${a}`);
        val = argv[++i];
      }
      // Repeatable flags (--env, --additional-gids) collect with NUL between values.
      flags[name] = typeof flags[name] === 'string' ? `${flags[name] as string}\0${val}` : val;
    } else if (bool.includes(name)) {
      flags[name] = val === undefined ? true : val !== 'false';
    } else {
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
  }
  return { flags, args };
}

export class UsageError extends Error {
  readonly exitCode = 1;
}

export const list = (v: string | boolean | undefined): string[] => (typeof v === 'string' ? v.split('\0') : []);

/** Global flags come before the verb. Returns the globals and the rest (verb first). */
export function parseGlobals(argv: string[]): { g: Globals; rest: string[] } {
  const g: Globals = { root: process.env.SKIFF_RUNC_ROOT || DEFAULT_ROOT, logFormat: 'text', debug: false };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    let [name, val] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    name = name.replace(/^--?/, '');
    const take = () => val ?? argv[++i];
    switch (name) {
      case 'root': g.root = take(); break;
      case 'log': g.log = take(); break;
      case 'log-format': {
        const f = take();
        if (f !== 'text' && f !== 'json') throw new UsageError(`invalid log-format: ${f}`);
        g.logFormat = f;
        break;
      }
      case 'debug': g.debug = true; break;
      case 'systemd-cgroup': throw new UsageError('--systemd-cgroup is not supported by skiff-runc: it manages cgroups through cgroupfs only (drop the flag, or set SystemdCgroup = false in containerd)');
      case 'rootless': take(); break; // skiff-runc runs as root only
      case 'criu': take(); break;
      case 'version': case 'v': case 'help': case 'h': return { g, rest: [name === 'v' ? 'version' : name === 'h' ? 'help' : name] };
      default: throw new UsageError(`flag provided but not defined: -${name}`);
    }
  }
  return { g, rest: argv.slice(i) };
}

/** logrus' text line. */
function textLine(level: string, msg: string): string {
  return `time="${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

export function logLine(g: Globals, level: 'error' | 'warning' | 'debug', msg: string): void {
  if (!g.log) {
    if (level !== 'debug' || g.debug) process.stderr.write(textLine(level, msg));
    return;
  }
  const line = g.logFormat === 'json'
    ? `${JSON.stringify({ level, msg, time: new Date().toISOString().replace(/\.\d+Z$/, 'Z') })}\n`
    : textLine(level, msg);
  try {
    appendFileSync(g.log, line);
  } catch {
    // the log is best effort
  }
}

/** runc's fatal(): the error in the log, and on stderr (plain, when the log is a file). */
export function fatal(g: Globals, msg: string): void {
  logLine(g, 'error', msg);
  if (g.log) process.stderr.write(`${msg}\n`);
}

export function needId(args: string[], verb: string, max = 1): string {
  if (args.length < 1) throw new UsageError(`"${verb}" requires a minimum of 1 argument`);
  if (args.length > max) throw new UsageError(`"${verb}" requires a maximum of ${max} argument${max > 1 ? 's' : ''}`);
  return args[0];
}

export type Verb = (argv: string[], g: Globals) => Promise<number>;
