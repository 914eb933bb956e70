// Flags shared by `run` and `create`, with Docker's names.
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import type { CreateOptions } from '../container/create.js';
import { usernsByDefault } from '../container/userns.js';
import { networkFlags, toNetworkOptions, type NetworkArgs } from './network-options.js';
import { getCommandWords } from './split.js';

/** --explain (main.ts takes it out of argv and sets SKIFF_EXPLAIN; declared here for --help and the flag check). */
export function explainFlag<T>(y: Argv<T>) {
  return y.option('explain', {
    type: 'boolean',
    describe: 'Narrate each kernel step on stderr: what was asked, why, and a command to see it (--explain=json: one JSON object per step; also SKIFF_EXPLAIN=1|json)',
  });
}

export function containerOptions<T>(y: Argv<T>) {
  return explainFlag(networkFlags(y))
    .positional('image', { type: 'string', describe: 'Image name or ID', demandOption: true })
    .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'Keep STDIN open even if not attached' })
    .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'Allocate a pseudo-TTY' })
    .option('rm', { type: 'boolean', default: false, describe: 'Automatically remove the container when it exits' })
    .option('name', { type: 'string', describe: 'Assign a name to the container' })
    .option('env', { alias: 'e', type: 'string', array: true, describe: 'Set environment variables (KEY=VALUE, or KEY to copy ours)' })
    .option('env-file', { type: 'string', array: true, describe: 'Read in a file of environment variables' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory inside the container' })
    .option('user', { alias: 'u', type: 'string', describe: 'Username or UID (format: <name|uid>[:<group|gid>])' })
    .option('hostname', { alias: 'h', type: 'string', describe: 'Container host name' })
    .option('entrypoint', { type: 'string', describe: 'Overwrite the default ENTRYPOINT of the image' })
    .option('memory', { alias: 'm', type: 'string', describe: 'Memory limit (e.g. 64m, 1g)' })
    .option('memory-swap', { type: 'string', describe: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" })
    .option('cpus', { type: 'string', describe: 'Number of CPUs (e.g. 1.5)' })
    .option('cpu-shares', { alias: 'c', type: 'number', describe: 'CPU shares (relative weight)' })
    .option('pids-limit', { type: 'number', describe: 'Tune container pids limit (-1 for unlimited)' })
    .option('userns-remap', { type: 'boolean', describe: 'Map container root to an unprivileged host uid range (default 100000:65536)' })
    .option('label', { alias: 'l', type: 'string', array: true, describe: 'Set meta data on a container' })
    .option('privileged', { type: 'boolean', default: false, describe: 'Give extended privileges: all capabilities, no seccomp, no masked paths, all devices' })
    .option('cap-add', { type: 'string', array: true, describe: 'Add Linux capabilities (or ALL)' })
    .option('cap-drop', { type: 'string', array: true, describe: 'Drop Linux capabilities (or ALL)' })
    .option('security-opt', { type: 'string', array: true, describe: 'Security options: seccomp=unconfined|PROFILE.json, no-new-privileges' })
    .option('read-only', { type: 'boolean', default: false, describe: "Mount the container's root filesystem as read only" })
    .option('volume', { alias: 'v', type: 'string', array: true, describe: 'Bind mount a host path (absolute, or relative from ./ or ../) or a named volume: HOST|NAME:CONTAINER[:ro]' })
    .option('tmpfs', { type: 'string', array: true, describe: 'Mount a tmpfs directory: PATH[:OPTIONS]' })
    .option('device', { type: 'string', array: true, describe: 'Add a host device to the container: HOST[:CONTAINER][:rwm]' })
    .option('add-host', { type: 'string', array: true, describe: 'Add a custom host-to-IP mapping (host:ip)' })
    .option('dns', { type: 'string', array: true, describe: 'Set custom DNS servers' })
    .option('dns-search', { type: 'string', array: true, describe: 'Set custom DNS search domains' })
    .option('dns-option', { type: 'string', array: true, describe: 'Set DNS options' });
}

export interface ContainerArgs extends NetworkArgs {
  image: string;
  interactive: boolean;
  tty: boolean;
  rm: boolean;
  name?: string;
  env?: string[];
  'env-file'?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  memory?: string;
  'memory-swap'?: string;
  cpus?: string;
  'cpu-shares'?: number;
  'pids-limit'?: number;
  'userns-remap'?: boolean;
  label?: string[];
  privileged: boolean;
  'cap-add'?: string[];
  'cap-drop'?: string[];
  'security-opt'?: string[];
  'read-only': boolean;
  volume?: string[];
  tmpfs?: string[];
  device?: string[];
  'add-host'?: string[];
  dns?: string[];
  'dns-search'?: string[];
  'dns-option'?: string[];
}

export function toCreateOptions(a: ContainerArgs): CreateOptions {
  return {
    image: a.image,
    cmd: getCommandWords(),
    name: a.name, hostname: a.hostname, env: a.env, envFile: a['env-file'], workdir: a.workdir, user: a.user,
    entrypoint: a.entrypoint, tty: a.tty, interactive: a.interactive, rm: a.rm, memory: a.memory,
    memorySwap: a['memory-swap'], cpus: a.cpus, cpuShares: a['cpu-shares'], pidsLimit: a['pids-limit'],
    usernsRemap: a['userns-remap'] ?? usernsByDefault(), labels: a.label, net: toNetworkOptions(a),
    privileged: a.privileged, capAdd: a['cap-add'], capDrop: a['cap-drop'], securityOpt: a['security-opt'],
    readOnly: a['read-only'], volumes: a.volume?.map(absoluteBindSource), tmpfs: a.tmpfs, devices: a.device,
    addHosts: a['add-host'], dns: a.dns, dnsSearch: a['dns-search'], dnsOptions: a['dns-option'],
  };
}

/**
 * Docker's CLI (./ since 23.0, ../ since 28.2) takes a bind source that
 * starts with . as relative to the working directory, and sends the daemon
 * an absolute path; so does this front end. create itself, like the Engine
 * API, takes absolute paths only.
 */
export function absoluteBindSource(spec: string): string {
  const colon = spec.indexOf(':');
  if (colon < 0) return spec; // no source: an anonymous volume, or an error create reports
  const source = spec.slice(0, colon);
  const relative = source === '.' || source === '..' || source.startsWith('./') || source.startsWith('../');
  return relative ? resolve(source) + spec.slice(colon) : spec;
}
