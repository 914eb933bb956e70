// `skiff create` (and the first half of `run`): merge the image config with
// the user's options the way Docker does, and write the container record.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parseCpus, parseMemorySize, validateLimits } from '../cgroups/index.js';
import { ImageStore, type Image } from '../image/store.js';
import { SkiffError } from '../util/errors.js';
import { paths } from '../util/paths.js';
import { initialState, shortId, type ContainerRecord } from './model.js';
import { createRootfsDirs, rootfsDirs, lowerDirs } from './rootfs.js';
import { explain } from '../teach/explain.js';
import * as narrate from '../teach/narrate.js';
import * as store from './store.js';
import { usernsFor } from './userns.js';
import { initialNetworkSettings, networkConfig, type NetworkOptions } from '../network/index.js';
import { isAnonymousVolume, parseDevice, parseTmpfs, parseVolume, validateSecurity } from './security.js';
import { ANONYMOUS_LABEL, removeAnonymousVolumes, withVolumes } from '../volume/store.js';
import { checkUserSpec } from './user.js';
import { checkWorkdir } from './workdir.js';
import { DEFAULT_PATH, expandEnv, mergeEnv, parseEnvFile } from './env.js';
import { claimEphemeral, claimStart } from './recover.js';
import { MAX_PIDS } from '../util/numbers.js';
import { randomHex } from '../util/random.js';

export interface CreateOptions {
  image: string;
  cmd: string[];
  name?: string;
  hostname?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  /** undefined: keep the image's; '' (or []): clear it. An array is the Engine API's form. */
  entrypoint?: string | string[];
  tty?: boolean;
  interactive?: boolean;
  rm?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: number;
  pidsLimit?: number;
  usernsRemap?: boolean;
  net?: NetworkOptions;
  labels?: string[];
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  readOnly?: boolean;
  volumes?: string[];
  tmpfs?: string[];
  /** --device HOST[:CONTAINER][:rwm] */
  devices?: string[];
  /** --add-host HOST:IP */
  addHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `run`: this process owns the start from creation on (see recover.ts). */
  claimStart?: boolean;
  /** A build's RUN container: removed by the next command if this process dies. */
  ephemeral?: boolean;
}

/** --add-host and --dns*, checked as Docker checks them. */
function resolverConfig(opts: CreateOptions): Pick<ContainerRecord['HostConfig'], 'ExtraHosts' | 'Dns' | 'DnsSearch' | 'DnsOptions'> {
  const extraHosts = (opts.addHosts ?? []).map((h) => {
    // HOST:IP, or HOST=IP (docker 23+); the IP may be IPv6, so split at the first separator.
    const m = h.match(/^([^:=]+)[:=](.+)$/);
    if (!m) throw new SkiffError(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
    const ip = m[2].replace(/^\[(.*)\]$/, '$1');
    if (!isIP(ip)) throw new SkiffError(`invalid argument "${h}" for "--add-host" flag: invalid IP address in add-host: "${m[2]}"`);
    return `${m[1]}:${ip}`;
  });
  for (const d of opts.dns ?? []) if (!isIP(d)) throw new SkiffError(`invalid argument "${d}" for "--dns" flag: ${d} is not an ip address`);
  const list = (v: string[] | undefined) => (v?.length ? v : undefined);
  return { ExtraHosts: list(extraHosts), Dns: list(opts.dns), DnsSearch: list(opts.dnsSearch), DnsOptions: list(opts.dnsOptions) };
}

/** Docker's rules for what runs: --entrypoint replaces the image's and drops its Cmd. */
export function commandOf(image: Image['config']['config'], opts: Pick<CreateOptions, 'cmd' | 'entrypoint'>) {
  let entrypoint = image?.Entrypoint ?? null;
  let cmd = image?.Cmd ?? null;
  if (opts.entrypoint !== undefined) {
    const words = typeof opts.entrypoint === 'string' ? [opts.entrypoint] : opts.entrypoint;
    entrypoint = words.length === 0 || (words.length === 1 && words[0] === '') ? null : words;
    cmd = null;
  }
  if (opts.cmd.length) cmd = opts.cmd;
  const args = [...(entrypoint ?? []), ...(cmd ?? [])];
  return { entrypoint, cmd, args };
}

/** What Docker refuses before anything is made: checked ahead of the image lookup. */
function checkOptions(opts: CreateOptions): void {
  checkWorkdir(opts.workdir);
  if (opts.user) checkUserSpec(opts.user);
  if (opts.cpus !== undefined) {
    const n = parseCpus(opts.cpus);
    const host = availableParallelism();
    if (n !== 0 && (n < 1e7 || n > host * 1e9)) {
      throw new SkiffError(`Range of CPUs is from 0.01 to ${host.toFixed(2)}, as there are only ${host} CPUs available`);
    }
  }
  const p = opts.pidsLimit;
  if (p !== undefined && (!Number.isSafeInteger(p) || p < -1 || p > MAX_PIDS)) {
    throw new SkiffError(`invalid --pids-limit ${p}: want -1 (unlimited) or an integer up to ${MAX_PIDS}`);
  }
}

export function createContainer(opts: CreateOptions, images = new ImageStore()): ContainerRecord {
  checkOptions(opts);
  const image = images.resolve(opts.image);
  if (!opts.user && image.config.config?.User) checkUserSpec(image.config.config.User);
  const ic = image.config.config ?? {};
  const memory = opts.memory !== undefined ? parseMemorySize(opts.memory) : 0;
  let memorySwap = 0;
  if (opts.memorySwap !== undefined) memorySwap = opts.memorySwap === '-1' ? -1 : parseMemorySize(opts.memorySwap);
  const nanoCpus = opts.cpus !== undefined ? parseCpus(opts.cpus) : 0;
  const limits = { memory, memorySwap: memorySwap || undefined, nanoCpus, cpuShares: opts.cpuShares, pidsLimit: opts.pidsLimit };
  validateLimits(limits);
  if (memorySwap > 0 && memory === 0) throw new SkiffError('You should always set the Memory limit when using Memoryswap limit, see usage.');
  if (memorySwap > 0 && memorySwap < memory) throw new SkiffError('Minimum memoryswap limit should be larger than memory limit, see usage.');
  const net = networkConfig(opts.net ?? {}, ic.ExposedPorts);
  // -v /path: an anonymous volume, given a random name now so every start mounts the same one.
  const anonymous = new Set<string>();
  const binds = (opts.volumes ?? []).map((spec) => {
    if (!isAnonymousVolume(spec)) return spec;
    const name = randomHex(32);
    anonymous.add(name);
    return `${name}:${spec}`;
  });
  const security = {
    Privileged: !!opts.privileged, CapAdd: opts.capAdd ?? null, CapDrop: opts.capDrop ?? null, SecurityOpt: opts.securityOpt ?? null,
    ReadonlyRootfs: !!opts.readOnly, Binds: opts.volumes ? binds : null, Devices: (opts.devices ?? []).map(parseDevice),
    Tmpfs: Object.fromEntries((opts.tmpfs ?? []).map((t) => { const p = parseTmpfs(t); return [p.target, p.options]; })),
  };
  validateSecurity({ ...security, Memory: 0, MemorySwap: 0, NanoCpus: 0, CpuShares: 0, PidsLimit: null, AutoRemove: false, NetworkMode: '', UsernsMode: '' });

  const { entrypoint, cmd, args } = commandOf(ic, opts);
  if (args.length === 0) throw new SkiffError('no command specified: the image has no Cmd or Entrypoint; give one after the image name');

  const userEnv = (opts.env ?? []).flatMap((e) => expandEnv(e, process.env));
  const fileEnv = (opts.envFile ?? []).flatMap((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new SkiffError(`open ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    return parseEnvFile(text);
  });
  const labels = Object.fromEntries((opts.labels ?? []).map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
  }));

  const parsed = binds.map(parseVolume);
  const mounts = parsed.map((v) => {
    return v.volume !== undefined
      ? { Type: 'volume', Name: v.volume, Source: v.source, Destination: v.target, Driver: 'local', Mode: v.readonly ? 'ro' : '', RW: !v.readonly, Propagation: '' }
      : { Type: 'bind', Source: v.source, Destination: v.target, Mode: v.readonly ? 'ro' : '', RW: !v.readonly, Propagation: 'rprivate' };
  });

  const makeRecord = () => store.create((id, name) => {
    const hostname = opts.hostname || shortId(id);
    const baseEnv = ic.Env ?? [];
    const env = mergeEnv([DEFAULT_PATH], baseEnv, [`HOSTNAME=${hostname}`], opts.tty ? ['TERM=xterm'] : [], fileEnv, userEnv);
    const dirs = rootfsDirs(id);
    return {
      Id: id,
      Name: `/${name}`,
      Created: new Date().toISOString(),
      Path: args[0],
      Args: args.slice(1),
      State: initialState(),
      Image: image.id,
      LogPath: `${paths.container(id)}/${id}-json.log`,
      Config: {
        Hostname: hostname, Domainname: '', User: opts.user ?? ic.User ?? '',
        AttachStdin: !!opts.interactive, AttachStdout: true, AttachStderr: true,
        Tty: !!opts.tty, OpenStdin: !!opts.interactive, StdinOnce: !!opts.interactive,
        Env: env, Cmd: cmd, Image: opts.image, WorkingDir: opts.workdir || ic.WorkingDir || '',
        Entrypoint: entrypoint, Labels: { ...(ic.Labels ?? {}), ...labels }, StopSignal: ic.StopSignal,
        ExposedPorts: net.ExposedPorts,
      },
      HostConfig: {
        Memory: memory, MemorySwap: memorySwap, NanoCpus: nanoCpus, CpuShares: opts.cpuShares ?? 0,
        PidsLimit: opts.pidsLimit ?? null, AutoRemove: !!opts.rm, NetworkMode: net.NetworkMode,
        PortBindings: net.PortBindings, PublishAllPorts: net.PublishAllPorts, Links: net.Links,
        ...security,
        ...resolverConfig(opts),
        UsernsMode: opts.usernsRemap ? 'remap' : '',
      },
      GraphDriver: {
        Name: 'overlay',
        Data: { LowerDir: lowerDirs(images, image.config.rootfs.diff_ids).join(':'), UpperDir: dirs.upper, MergedDir: dirs.merged, WorkDir: dirs.work },
      },
      NetworkSettings: initialNetworkSettings(net),
      Mounts: mounts,
      Skiff: { PidStartTime: 0, MonitorPid: 0, MonitorStartTime: 0, Userns: opts.usernsRemap ? usernsFor() : null, CgroupPaths: [] },
    };
  }, opts.name, (id) => {
    if (opts.claimStart) claimStart(id);
    if (opts.ephemeral) claimEphemeral(id);
  });
  // Volumes and the record that uses them are made under one lock (see withVolumes).
  const rec = parsed.some((v) => v.volume !== undefined)
    ? withVolumes((create) => {
      for (const v of parsed) if (v.volume !== undefined) create(v.volume, anonymous.has(v.volume) ? { labels: { [ANONYMOUS_LABEL]: '' } } : {});
      return makeRecord();
    })
    : makeRecord();
  try {
    createRootfsDirs(rec);
    explain(() => narrate.createStep(rec.Id, rootfsDirs(rec.Id)));
  } catch (e) {
    store.removeDir(rec.Id);
    removeAnonymousVolumes(rec.HostConfig.Binds);
    throw e;
  }
  return rec;
}
