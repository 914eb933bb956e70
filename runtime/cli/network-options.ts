// Networking flags of `run` and `create`, with Docker's names.
import type { Argv } from 'yargs';
import type { NetworkOptions } from '../network/index.js';

export function networkFlags<T>(y: Argv<T>) {
  return y
    .option('network', { alias: 'net', type: 'string', default: 'bridge', describe: 'Connect a container to a network: bridge, none, host, container:NAME or a network made with `network create`' })
    .option('network-alias', { type: 'string', array: true, describe: 'Add network-scoped alias for the container (user-defined networks)' })
    .option('ip', { type: 'string', describe: "IPv4 address on the bridge (e.g. 172.30.100.104); without it an address is leased at each start" })
    .option('publish', { alias: 'p', type: 'string', array: true, describe: "Publish a container's port(s) to the host: [IP:][HOSTPORT:]CPORT[/udp], ranges allowed" })
    .option('publish-all', { alias: 'P', type: 'boolean', default: false, describe: 'Publish all exposed ports to random ports (config "port-range", default 49000-49900)' })
    .option('expose', { type: 'string', array: true, describe: 'Expose a port or a range of ports' })
    .option('link', { type: 'string', array: true, describe: 'Add link to another container (name[:alias])' });
}

export interface NetworkArgs {
  network: string;
  ip?: string;
  publish?: string[];
  'publish-all': boolean;
  expose?: string[];
  link?: string[];
  'network-alias'?: string[];
}

export function toNetworkOptions(a: NetworkArgs): NetworkOptions {
  return { network: a.network, ip: a.ip, publish: a.publish, publishAll: a['publish-all'], expose: a.expose, links: a.link, aliases: a['network-alias'] };
}
