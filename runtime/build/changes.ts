// Dockerfile instructions that only change an image's config: what
// `commit -c` accepts (and, later, what the builder applies for them).
import type { ImageConfig } from '../image/store.js';
import { SkiffError } from '../util/errors.js';
import { parseSignal } from '../util/numbers.js';
import { checkUserSpec } from '../container/user.js';

type Config = NonNullable<ImageConfig['config']>;

/** JSON-array form, else the shell form wrapped in /bin/sh -c (Docker's rule). */
export function commandForm(args: string): string[] {
  const t = args.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      // not JSON: shell form after all, as Docker does
    }
  }
  return ['/bin/sh', '-c', t];
}

/** KEY=VALUE pairs (quotes allowed), or the legacy single "KEY VALUE" form. */
export function keyValues(args: string, instruction: string): Array<[string, string]> {
  const t = args.trim();
  if (!/^[^\s=]+=/.test(t)) {
    const m = t.match(/^(\S+)\s+(.*)$/s);
    if (!m) throw new SkiffError(`${instruction} needs KEY=VALUE or KEY VALUE, got "${args}"`);
    return [[m[1], m[2]]];
  }
  const out: Array<[string, string]> = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of t.matchAll(re)) {
    let v = m[2];
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1], v]);
  }
  return out;
}

export const CONFIG_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'WORKDIR', 'USER', 'LABEL', 'STOPSIGNAL', 'VOLUME'];

/** Applies one instruction line (e.g. `CMD ["sh"]`) to a config, in place. */
export function applyChange(config: Config, line: string): void {
  const m = line.trim().match(/^(\w+)\s*(.*)$/s);
  if (!m) throw new SkiffError(`invalid change: "${line}"`);
  const instruction = m[1].toUpperCase();
  const args = m[2];
  switch (instruction) {
    case 'CMD': config.Cmd = commandForm(args); break;
    case 'ENTRYPOINT': config.Entrypoint = commandForm(args); break;
    case 'ENV': {
      const env = [...(config.Env ?? [])];
      for (const [k, v] of keyValues(args, 'ENV')) {
        const i = env.findIndex((e) => e.startsWith(`${k}=`));
        if (i >= 0) env[i] = `${k}=${v}`;
        else env.push(`${k}=${v}`);
      }
      config.Env = env;
      break;
    }
    case 'EXPOSE':
      config.ExposedPorts = { ...(config.ExposedPorts ?? {}) };
      for (const p of args.trim().split(/\s+/).filter(Boolean)) config.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
      break;
    case 'WORKDIR': config.WorkingDir = args.trim(); break;
    case 'USER': checkUserSpec(args.trim()); config.User = args.trim(); break;
    case 'LABEL':
      config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(keyValues(args, 'LABEL')) };
      break;
    case 'STOPSIGNAL': parseSignal(args.trim()); config.StopSignal = args.trim(); break;
    case 'VOLUME': {
      const vols = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.trim().split(/\s+/);
      (config as Config & { Volumes?: Record<string, object> }).Volumes = Object.fromEntries(vols.map((v) => [v, {}]));
      break;
    }
    default:
      throw new SkiffError(`${instruction} is not supported as a change; use one of ${CONFIG_INSTRUCTIONS.join(', ')}`);
  }
}
