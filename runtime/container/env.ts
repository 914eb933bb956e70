// A container's environment: Docker's merge rules, --env and --env-file.
import { SkiffError } from '../util/errors.js';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Parses an --env-file: KEY=VALUE lines, comments, and bare KEY taken from our environment. */
export function parseEnvFile(text: string, hostEnv: NodeJS.ProcessEnv = process.env): string[] {
  return text.split('\n').map((l) => l.replace(/^\s+/, '')).filter((l) => l && !l.startsWith('#')).flatMap((l) => expandEnv(l, hostEnv));
}

export function expandEnv(entry: string, hostEnv: NodeJS.ProcessEnv): string[] {
  if (entry === '') throw new SkiffError('invalid environment variable: "" (want KEY=VALUE, or KEY to copy it from this environment)');
  if (entry.includes('=')) {
    if (entry.startsWith('=')) throw new SkiffError(`invalid environment variable: ${entry}`);
    return [entry];
  }
  const v = hostEnv[entry];
  return v === undefined ? [] : [`${entry}=${v}`];
}

/** Later entries win, by key, keeping the first position of each key. */
export function mergeEnv(...lists: string[][]): string[] {
  const m = new Map<string, string>();
  for (const list of lists) for (const e of list) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...m.values()];
}
