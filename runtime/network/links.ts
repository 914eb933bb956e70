// Docker's legacy links (--link NAME[:ALIAS]): environment variables and
// /etc/hosts entries for the linking container, names for `ps`, and the
// HostConfig.Links form `inspect` shows. Rules follow moby's daemon/links.
import type { ContainerRecord } from '../container/model.js';
import { splitKey } from './ports.js';

/** A stored link: "target:alias" (the API's HostConfig.Links input form). */
export function parseStoredLink(l: string): { target: string; alias: string } {
  const i = l.indexOf(':');
  const target = (i < 0 ? l : l.slice(0, i)).replace(/^\//, '');
  const alias = (i < 0 ? target : l.slice(i + 1)).replace(/^.*\//, '');
  return { target, alias };
}

/** HostConfig.Links as Docker shows it: "/db:/web/db". */
export function dockerLinks(rec: ContainerRecord): string[] {
  return (rec.HostConfig.Links ?? []).map((l) => {
    const { target, alias } = parseStoredLink(l);
    return `/${target}:${rec.Name}/${alias}`;
  });
}

/** Every name a container is known by: its own, then "parent/alias" for each container linking to it. */
export function namesOf(rec: ContainerRecord, all: ContainerRecord[]): string[] {
  const own = rec.Name.slice(1);
  const extra: string[] = [];
  for (const o of all) {
    for (const l of o.HostConfig.Links ?? []) {
      const { target, alias } = parseStoredLink(l);
      if (target === own) extra.push(`${o.Name.slice(1)}/${alias}`);
    }
  }
  return [own, ...extra.sort()];
}

/** Docker's link environment (links.Link.ToEnv) for `alias` pointing at `child`, seen from `parentName` ("/web"). */
export function linkEnv(alias: string, child: ContainerRecord, childIp: string, parentName: string): string[] {
  const name = `${parentName}/${alias}`;
  const A = alias.toUpperCase().replace(/-/g, '_');
  const ports = Object.keys(child.Config.ExposedPorts ?? {}).map(splitKey)
    .sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : 0));
  const env: string[] = [];
  if (ports.length) env.push(`${A}_PORT=${ports[0].proto}://${childIp}:${ports[0].port}`);
  // Runs of three or more ports also get _START/_END variables (moby's nextContiguous, quirks included:
  // the same number twice, tcp and udp, counts as a step).
  const nextContiguous = (value: number, index: number): number => {
    if (index + 1 === ports.length) return index;
    for (let k = index + 1; k < ports.length; k++) {
      if (ports[k].port > value + 1) return k - 1;
      value++;
    }
    return ports.length - 1;
  };
  for (let i = 0; i < ports.length;) {
    const p = ports[i];
    const j = nextContiguous(p.port, i);
    if (j > i + 1) {
      const P = p.proto.toUpperCase();
      const q = ports[j];
      env.push(`${A}_PORT_${p.port}_${P}_START=${p.proto}://${childIp}:${p.port}`);
      env.push(`${A}_PORT_${p.port}_${P}_ADDR=${childIp}`);
      env.push(`${A}_PORT_${p.port}_${P}_PROTO=${p.proto}`);
      env.push(`${A}_PORT_${p.port}_${P}_PORT_START=${p.port}`);
      env.push(`${A}_PORT_${p.port}_${q.proto.toUpperCase()}_END=${q.proto}://${childIp}:${q.port}`);
      env.push(`${A}_PORT_${p.port}_${q.proto.toUpperCase()}_PORT_END=${q.port}`);
      i = j + 1;
    } else {
      i++;
    }
  }
  for (const p of ports) {
    const P = p.proto.toUpperCase();
    env.push(`${A}_PORT_${p.port}_${P}=${p.proto}://${childIp}:${p.port}`);
    env.push(`${A}_PORT_${p.port}_${P}_ADDR=${childIp}`);
    env.push(`${A}_PORT_${p.port}_${P}_PORT=${p.port}`);
    env.push(`${A}_PORT_${p.port}_${P}_PROTO=${p.proto}`);
  }
  env.push(`${A}_NAME=${name}`);
  for (const e of child.Config.Env) {
    const k = e.indexOf('=');
    if (k < 0) continue;
    const key = e.slice(0, k);
    const val = e.slice(k + 1);
    if (key === 'HOME' || key === 'PATH') continue;
    // skiff records these in Config.Env where Docker adds them at start only: leave them out as Docker's Config.Env would.
    if (key === 'HOSTNAME' && val === child.Config.Hostname) continue;
    if (key === 'TERM' && val === 'xterm' && child.Config.Tty) continue;
    env.push(`${A}_ENV_${key}=${val}`);
  }
  return env;
}

/** The /etc/hosts line for a link: "IP\talias hostname [name]" (the name only when it differs from the alias). */
export function linkHostsLine(alias: string, child: ContainerRecord, childIp: string): string {
  const name = child.Name.slice(1);
  return `${childIp}\t${alias} ${child.Config.Hostname}${alias !== name ? ` ${name}` : ''}`;
}
