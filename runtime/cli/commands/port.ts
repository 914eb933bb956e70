// `skiff port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports of a
// running container, printed as Docker prints them.
import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import { publishedPorts } from '../../network/index.js';
import { naturalLess } from '../../network/ports.js';
import { SkiffError } from '../../util/errors.js';

interface Args { container: string; port?: string }

const cmd: CommandModule<object, Args> = {
  command: 'port <container> [port]',
  describe: 'List port mappings or a specific mapping for the container',
  builder: (y) => y
    .positional('container', { type: 'string', demandOption: true })
    .positional('port', { type: 'string', describe: 'PRIVATE_PORT[/PROTO]' }) as never,
  handler: (a) => {
    const rec = findLive(a.container);
    const ports = publishedPorts(rec);
    const out: string[] = [];
    if (a.port !== undefined) {
      const spec = String(a.port);
      const [port, proto = 'tcp'] = spec.split('/');
      if (!/^\d+$/.test(port) || Number(port) > 65535) throw new SkiffError(`Error: invalid port (${port}): strconv.ParseUint: parsing "${port}": invalid syntax`, 1);
      const key = `${Number(port)}/${proto}`;
      for (const [k, b] of ports) if (k === key) out.push(`${b.HostIp}:${b.HostPort}`);
      if (!out.length) throw new SkiffError(`Error: No public port '${spec}' published for ${a.container}`, 1);
    } else {
      for (const [k, b] of ports) out.push(`${k} -> ${b.HostIp}:${b.HostPort}`);
    }
    if (out.length) process.stdout.write(`${out.sort(naturalLess).join('\n')}\n`);
  },
};
export default cmd;
