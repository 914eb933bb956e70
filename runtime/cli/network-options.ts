// Networking flags of `run` and `create`, with Docker's names.
import type { Argv } from 'yargs';
import type { NetworkOptions } from '../network/index.js';

export function networkFlags<T>(y: Argv<T>) {
  return y
    .option('network', { alias: 'net', type: 'string', default: 'none', describe: 'Connect a container to a network: none, host (bridge comes with the networking issue)' })
    .option('ip', { type: 'string', describe: 'IPv4 address (e.g. 172.30.100.104)' })
    .option('publish', { alias: 'p', type: 'string', array: true, describe: "Publish a container's port(s) to the host" })
    .option('publish-all', { alias: 'P', type: 'boolean', default: false, describe: 'Publish all exposed ports to random ports' })
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
}

export function toNetworkOptions(a: NetworkArgs): NetworkOptions {
  return { network: a.network, ip: a.ip, publish: a.publish, publishAll: a['publish-all'], expose: a.expose, links: a.link };
}
