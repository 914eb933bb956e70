// skiff's own settings: $SKIFF_ROOT/config.json, else /etc/skiff/config.json.
//   { "userns-remap": "100000:65536" | true | false }
import { join } from 'node:path';
import { readJsonOr } from './util/json.js';
import { skiffRoot } from './util/paths.js';

export interface SkiffConfig {
  /** true or "HOSTID:SIZE" turns on user namespaces for every container. */
  'userns-remap'?: boolean | string;
}

let cached: SkiffConfig | undefined;
export function config(): SkiffConfig {
  return (cached ??= readJsonOr<SkiffConfig>(join(skiffRoot(), 'config.json'), readJsonOr<SkiffConfig>('/etc/skiff/config.json', {})));
}
