// /containers/...: the Engine API's container endpoints, each a thin layer
// over the library the CLI verbs use (create, run, lifecycle, logs).
import { createWriteStream, existsSync, openSync } from 'node:fs';
import { mknod } from '../../native-bindings/libc.js';
import { stdinFifo } from '../container/io.js';
import { createContainer, type CreateOptions } from '../container/create.js';
import { findLive, finishRun, kill, refresh, remove, stop } from '../container/lifecycle.js';
import { topOf } from '../container/top.js';
import { readLogs } from '../container/logs.js';
import type { ContainerRecord } from '../container/model.js';
import { pause, unpause } from '../container/pause.js';
import { pruneContainers } from '../container/recover.js';
import { runDetached, StandbyMonitor } from '../container/run.js';
import * as store from '../container/store.js';
import { usernsByDefault } from '../container/userns.js';
import { sleep } from '../util/proc.js';
import { ImageStore } from '../image/store.js';
import { apiPorts } from '../network/ports.js';
import { connectNetwork, namesOf } from '../network/index.js';
import { commandLine, PS_FILTERS, selectContainers, stateOf, statusOf, networksOf } from '../cli/container-list.js';
import { parseFilters } from '../cli/filters.js';
import { containerView } from '../cli/inspect-view.js';
import { ApiError, boolParam, filterFlags, httpStatus, noContent, readJson, sendJson, type Ctx, type Router } from './router.js';
import { SkiffError } from '../util/errors.js';
import { isAnonymousVolume } from '../container/security.js';
import { LogTail, RunWatch } from './follow.js';
import { endStream, openStream, streamWriter, STDERR, STDOUT, mediaType } from './stream.js';
import { attachTerminal, sizeParams } from './tty.js';
import { resizeContainerTty } from '../container/pty.js';

/** The parts of Docker's create body skiff understands. */
interface CreateBody {
  Image?: string; Cmd?: string[] | string | null; Entrypoint?: string[] | string | null; Env?: string[] | null;
  Tty?: boolean; OpenStdin?: boolean; WorkingDir?: string; User?: string; Hostname?: string;
  Labels?: Record<string, string> | null; ExposedPorts?: Record<string, object> | null; Volumes?: Record<string, object> | null;
  HostConfig?: {
    AutoRemove?: boolean; NetworkMode?: string; Memory?: number; MemorySwap?: number; NanoCpus?: number; CpuShares?: number;
    PidsLimit?: number | null; PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
    PublishAllPorts?: boolean; Links?: string[] | null; Privileged?: boolean; CapAdd?: string[] | null; CapDrop?: string[] | null;
    SecurityOpt?: string[] | null; ReadonlyRootfs?: boolean; Binds?: string[] | null; Tmpfs?: Record<string, string> | null;
    Devices?: Array<{ PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }> | null;
    Mounts?: Array<{ Type?: string; Source?: string; Target?: string; ReadOnly?: boolean }> | null;
    ExtraHosts?: string[] | null; Dns?: string[] | null; DnsSearch?: string[] | null; DnsOptions?: string[] | null;
  } | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointBody | null> | null } | null;
}

type EndpointBody = { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null };

const S_IFIFO = 0o010000;

/** HostConfig.Mounts of type volume and bind, as the Binds strings skiff records. */
function mountBinds(mounts: NonNullable<NonNullable<CreateBody['HostConfig']>['Mounts']>): string[] {
  return mounts.filter((m) => m.Type !== 'tmpfs').map((m) => {
    if (m.Type !== 'volume' && m.Type !== 'bind') throw new ApiError(400, `invalid mount config: mount type "${m.Type}" is not supported`);
    // A volume mount without Source is anonymous: the target alone, as `-v /path`.
    if (!m.Source && m.Type === 'volume') return `${m.Target ?? ''}${m.ReadOnly ? ':ro' : ''}`;
    if (!m.Source) throw new ApiError(400, `invalid mount config for type "${m.Type}": field Source must not be empty`);
    return `${m.Source}:${m.Target ?? ''}${m.ReadOnly ? ':ro' : ''}`;
  });
}

/**
 * Binds and Mounts as skiff's -v strings. The docker CLI sends `-v /path`
 * (no source) as Config.Volumes: an anonymous volume, unless a bind or mount
 * already covers that path.
 */
function volumeSpecs(b: CreateBody): string[] {
  const h = b.HostConfig ?? {};
  const specs = [...(h.Binds ?? []), ...mountBinds(h.Mounts ?? [])];
  const target = (s: string) => (isAnonymousVolume(s) ? s.split(':')[0] : s.split(':')[1]);
  const covered = new Set(specs.map(target));
  return [...specs, ...Object.keys(b.Volumes ?? {}).filter((p) => !covered.has(p))];
}

const words = (v: string[] | string | null | undefined): string[] | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'string' ? [v] : v;

function check(cond: boolean, what: string): void {
  if (!cond) throw new ApiError(400, what);
}

/**
 * The network a created container's eth0 is on. Docker (allocateNetwork) puts
 * a container whose NetworkMode is "default" on the default bridge only when
 * EndpointsConfig names no network, or names the bridge; otherwise it is on
 * the networks named there and not on the bridge (docker-py's
 * create_container(networking_config=...) without network_mode). skiff makes
 * the first of them eth0; create connects the others.
 */
export function networkModeOf(given: string | undefined, endpoints: Record<string, unknown>): string {
  if (given && given !== 'default') return given;
  const names = Object.keys(endpoints);
  if (!names.length || names.includes('bridge') || names.includes('default')) return 'bridge';
  return names[0];
}

/** Docker's create body as the CLI's create options. */
export function toCreateOptions(b: CreateBody, name: string | undefined): CreateOptions {
  check(typeof b.Image === 'string' && b.Image !== '', 'config error: Image is required');
  for (const [k, v] of [['Cmd', b.Cmd], ['Entrypoint', b.Entrypoint], ['Env', b.Env]] as const) {
    check(v === undefined || v === null || typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')), `json: ${k} must be a list of strings`);
  }
  const h = b.HostConfig ?? {};
  const endpoints = b.NetworkingConfig?.EndpointsConfig ?? {};
  const mode = networkModeOf(h.NetworkMode, endpoints);
  // The endpoint of the NetworkMode network: its aliases (compose's service name) and --ip.
  const primary = endpoints[mode] ?? (mode === 'bridge' ? endpoints.default : undefined) ?? null;
  const publish = Object.entries(h.PortBindings ?? {}).flatMap(([port, list]) =>
    (list?.length ? list : [{}]).map((p) => [p.HostIp, p.HostPort ?? ''].filter((x) => x !== undefined && x !== '').concat(port).join(':')));
  return {
    image: b.Image!,
    cmd: words(b.Cmd) ?? [],
    entrypoint: words(b.Entrypoint),
    name,
    hostname: b.Hostname || undefined,
    // A bare KEY is resolved by the client; the daemon has no environment of the user's to copy it from.
    env: (b.Env ?? []).filter((e) => e.includes('=')),
    workdir: b.WorkingDir || undefined,
    user: b.User || undefined,
    tty: !!b.Tty,
    interactive: !!b.OpenStdin,
    rm: !!h.AutoRemove,
    memory: h.Memory ? String(h.Memory) : undefined,
    memorySwap: h.MemorySwap ? String(h.MemorySwap) : undefined,
    cpus: h.NanoCpus ? String(h.NanoCpus / 1e9) : undefined,
    cpuShares: h.CpuShares || undefined,
    pidsLimit: h.PidsLimit ? h.PidsLimit : undefined,
    usernsRemap: usernsByDefault(),
    labels: Object.entries(b.Labels ?? {}).map(([k, v]) => `${k}=${v}`),
    net: {
      network: mode, publish, publishAll: !!h.PublishAllPorts,
      expose: Object.keys(b.ExposedPorts ?? {}), links: h.Links ?? undefined,
      aliases: primary?.Aliases?.length ? primary.Aliases : undefined, ip: primary?.IPAMConfig?.IPv4Address || undefined,
    },
    privileged: !!h.Privileged,
    capAdd: h.CapAdd ?? undefined,
    capDrop: h.CapDrop ?? undefined,
    securityOpt: h.SecurityOpt ?? undefined,
    readOnly: !!h.ReadonlyRootfs,
    volumes: volumeSpecs(b),
    tmpfs: [...Object.entries(h.Tmpfs ?? {}).map(([p, o]) => (o ? `${p}:${o}` : p)), ...(h.Mounts ?? []).filter((m) => m.Type === 'tmpfs').map((m) => m.Target ?? '')],
    devices: (h.Devices ?? []).map((d) => [d.PathOnHost, d.PathInContainer || d.PathOnHost, d.CgroupPermissions || 'rwm'].join(':')),
    addHosts: h.ExtraHosts ?? undefined, dns: h.Dns ?? undefined, dnsSearch: h.DnsSearch ?? undefined, dnsOptions: h.DnsOptions ?? undefined,
  };
}

/** Starts take a monitor that has already booted (see StandbyMonitor). */
export const monitors = new StandbyMonitor(finishRun);

/** The container, refreshed; an unknown ref answers 404. */
export function find(ref: string): ContainerRecord {
  try {
    return findLive(ref);
  } catch (e) {
    if (/^No such container/.test((e as Error).message)) throw new ApiError(404, `No such container: ${ref}`);
    throw e;
  }
}

async function create(c: Ctx): Promise<void> {
  const body = await readJson<CreateBody>(c.req);
  const opts = toCreateOptions(body, c.query.get('name') ?? undefined);
  const images = new ImageStore();
  // The client pulls on this 404 and asks again.
  if (!images.lookup(opts.image)) throw new ApiError(404, `No such image: ${opts.image.includes(':') || opts.image.includes('@') ? opts.image : `${opts.image}:latest`}`);
  let rec: ContainerRecord;
  try {
    rec = createContainer(opts, images);
  } catch (e) {
    // What create refuses is the request's fault (a bad option or name), unless it is a conflict.
    if (e instanceof SkiffError && httpStatus(e) === 500) throw new ApiError(400, e.message);
    throw e;
  }
  // Endpoints on further networks: recorded now, plugged in at start (as `network connect` on a created container).
  const mode = opts.net?.network ?? 'bridge';
  for (const [net, ep] of Object.entries(body.NetworkingConfig?.EndpointsConfig ?? {})) {
    if (net === mode || (mode === 'bridge' && net === 'default')) continue;
    try {
      await connectNetwork(net, rec.Id, { aliases: ep?.Aliases ?? undefined, ip: ep?.IPAMConfig?.IPv4Address || undefined });
    } catch (e) {
      await remove(rec, true, true); // with its anonymous volumes: the create did not happen
      throw e;
    }
  }
  sendJson(c.res, 201, { Id: rec.Id, Warnings: [] });
}

async function start(c: Ctx): Promise<void> {
  const rec = find(c.params.id);
  if (rec.State.Running) return noContent(c.res, 304);
  try {
    await runDetached(rec.Id, monitors);
  } catch (e) {
    // As the daemon: an --rm container that cannot start is removed.
    const now = (() => { try { return refresh(store.read(rec.Id)); } catch { return undefined; } })();
    if (now?.HostConfig.AutoRemove && !now.State.Running) await remove(now, true);
    throw new ApiError(400, (e as Error).message);
  }
  noContent(c.res);
}

/** Stops polling once the client has gone. */
function gone(c: Ctx): () => boolean {
  let closed = false;
  const sock = c.hijack?.socket ?? c.req.socket;
  sock.once('close', () => (closed = true));
  return () => closed;
}

async function wait(c: Ctx): Promise<void> {
  const condition = c.query.get('condition') || 'not-running';
  check(['not-running', 'next-exit', 'removed'].includes(condition), `invalid condition: "${condition}"`);
  const rec = find(c.params.id);
  const watch = new RunWatch(rec);
  try {
    // Headers first: the client starts the container once its wait is registered.
    c.res.writeHead(200, { 'Content-Type': 'application/json' });
    c.res.flushHeaders();
    const aborted = gone(c);
    if (condition === 'removed') await watch.until((s) => s === 'removed', aborted);
    else if (condition === 'next-exit') await watch.until((s) => s !== 'waiting', aborted);
    else if (rec.State.Running) await watch.until((s) => s !== 'waiting', aborted);
    // not-running on a container that was not running: its last exit, at once.
    const code = condition === 'not-running' && !rec.State.Running ? rec.State.ExitCode : watch.exitCode();
    const e = watch.exit();
    c.res.end(JSON.stringify({ StatusCode: code, Error: e?.Error ? { Message: e.Error } : null }));
  } finally {
    watch.close();
  }
}

async function attach(c: Ctx): Promise<void> {
  const rec = find(c.params.id);
  const tty = rec.Config.Tty;
  const wantOut = boolParam(c.query, 'stdout');
  const wantErr = boolParam(c.query, 'stderr');
  const follow = boolParam(c.query, 'stream');
  // A Tty container's terminal, live: `docker run -it` (attached before the start) and `docker attach`.
  if (tty && follow && !boolParam(c.query, 'logs')
    && await attachTerminal(c, rec, { stdin: boolParam(c.query, 'stdin') && rec.Config.OpenStdin, stdout: wantOut || wantErr })) return;
  const tail = new LogTail(rec.LogPath, boolParam(c.query, 'logs'));
  const watch = new RunWatch(rec);
  const stdin = boolParam(c.query, 'stdin') && rec.Config.OpenStdin && !tty && !rec.State.Running && c.hijack ? attachStdin(rec, c.hijack) : undefined;
  const out = openStream(c.res, c.hijack, tty);
  stdin?.copy();
  const write = streamWriter(out, tty);
  const aborted = gone(c);
  const flush = (final = false) => {
    for (const l of tail.read(final)) {
      if (l.stream === 'stderr' ? wantErr : wantOut) write(l.stream === 'stderr' ? STDERR : STDOUT, l.log);
    }
  };
  try {
    if (follow) {
      await watch.until((s) => {
        flush();
        return s !== 'waiting';
      }, aborted);
    }
    flush(true);
  } finally {
    tail.close();
    watch.close();
    void stdin?.close();
    endStream(out);
  }
}

/**
 * The client's stdin, for a container not started yet: a FIFO the monitor
 * opens as the command's stdin (see loggedIo), and removes once open. This
 * end is opened read-write, which never blocks. When the client closes its
 * side, this end is closed too, which is the command's EOF, but not before
 * the monitor has the FIFO open: a FIFO nobody holds loses what is in it.
 */
function attachStdin(rec: ContainerRecord, h: NonNullable<Ctx['hijack']>) {
  const fifo = stdinFifo(rec);
  if (!existsSync(fifo)) mknod(fifo, S_IFIFO | 0o600);
  const w = createWriteStream('', { fd: openSync(fifo, 'r+') });
  w.on('error', () => {});
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    for (let i = 0; i < 3000 && existsSync(fifo) && !w.destroyed; i++) await sleep(10);
    w.end();
  };
  return {
    /** Once the 101 is out. */
    copy() {
      if (h.head.length) w.write(h.head);
      h.socket.pipe(w, { end: false });
      h.socket.once('end', () => void close());
    },
    close,
  };
}

/** `since`/`until`: Unix seconds, with a fraction (the CLI turns "10m" or a date into this); 0 means unset. */
function unixParam(c: Ctx, key: string): number | undefined {
  const v = c.query.get(key);
  if (!v || v === '0') return undefined;
  check(/^\d+(\.\d+)?$/.test(v), `invalid value for "${key}": "${v}"`);
  return Number(v) * 1000;
}

async function logs(c: Ctx): Promise<void> {
  const rec = find(c.params.id);
  const wantOut = boolParam(c.query, 'stdout');
  const wantErr = boolParam(c.query, 'stderr');
  check(wantOut || wantErr, 'Bad parameters: you must choose at least one stream');
  const tailParam = c.query.get('tail') ?? 'all';
  check(tailParam === 'all' || /^-?\d+$/.test(tailParam), `invalid value for "tail": "${tailParam}"`);
  const tty = rec.Config.Tty;
  c.res.writeHead(200, { 'Content-Type': mediaType(tty) });
  const write = streamWriter(c.res, tty);
  const sink = (n: number, wanted: boolean) => ({
    write(data: string | Buffer) {
      if (wanted) write(n, data);
      return true;
    },
  }) as unknown as NodeJS.WritableStream;
  const aborted = gone(c);
  await readLogs(rec.LogPath, sink(STDOUT, wantOut) as never, sink(STDERR, wantErr) as never, {
    follow: boolParam(c.query, 'follow'),
    tail: tailParam === 'all' || Number(tailParam) < 0 ? undefined : Number(tailParam),
    timestamps: boolParam(c.query, 'timestamps'),
    since: unixParam(c, 'since'),
    until: unixParam(c, 'until'),
    isRunning: () => {
      if (aborted()) return false;
      try {
        return store.read(rec.Id).State.Running;
      } catch {
        return false;
      }
    },
  });
  c.res.end();
}

/** One entry of GET /containers/json. */
function listEntry(r: ContainerRecord, all: ContainerRecord[]) {
  return {
    Id: r.Id, Names: namesOf(r, all).map((n) => `/${n}`), Image: r.Config.Image, ImageID: r.Image, Command: commandLine(r),
    Created: Math.floor(new Date(r.Created).getTime() / 1000), Ports: r.State.Running ? apiPorts(r.NetworkSettings?.Ports) : [],
    Labels: r.Config.Labels ?? {}, State: stateOf(r), Status: statusOf(r),
    HostConfig: { NetworkMode: r.HostConfig.NetworkMode }, NetworkSettings: { Networks: Object.fromEntries(networksOf(r).map((n) => [n, r.NetworkSettings?.Networks?.[n] ?? {}])) },
    Mounts: r.Mounts ?? [],
  };
}

function list(c: Ctx): void {
  const filters = parseFilters(filterFlags(c.query), PS_FILTERS);
  const all = store.list().map(refresh).filter((r) => r.State.Status !== 'removing');
  const limit = Number(c.query.get('limit') ?? -1);
  const chosen = selectContainers(all, { all: boolParam(c.query, 'all'), last: limit > 0 ? limit : -1, filters }, new ImageStore());
  sendJson(c.res, 200, chosen.map((r) => listEntry(r, all)));
}

/** The container's processes as the host's `ps` shows them (`ps_args`, default -ef). */
function top(c: Ctx): void {
  const rec = find(c.params.id);
  if (!rec.State.Running) throw new ApiError(409, `Container ${rec.Id} is not running`);
  const args = (c.query.get('ps_args') ?? '').split(/\s+/).filter(Boolean);
  try {
    sendJson(c.res, 200, topOf(rec, args));
  } catch (e) {
    throw new ApiError(500, (e as Error).message);
  }
}

export function containerRoutes(r: Router): void {
  r.on('POST', '/containers/create', create)
    .on('GET', '/containers/json', list)
    .on('GET', '/containers/{id}/json', (c) => sendJson(c.res, 200, containerView(find(c.params.id))))
    .on('POST', '/containers/{id}/start', start)
    .on('POST', '/containers/{id}/wait', wait)
    .on('POST', '/containers/{id}/attach', attach)
    .on('GET', '/containers/{id}/logs', logs)
    .on('GET', '/containers/{id}/top', top)
    .on('POST', '/containers/{id}/rename', (c) => {
      const name = c.query.get('name');
      if (!name) throw new ApiError(400, 'missing name');
      try {
        store.rename(find(c.params.id).Id, name.replace(/^\//, ''));
      } catch (e) {
        if (/^Renaming a container with the same name/.test((e as Error).message)) throw new ApiError(400, (e as Error).message);
        throw e;
      }
      noContent(c.res);
    })
    .on('POST', '/containers/{id}/stop', async (c) => {
      const rec = find(c.params.id);
      if (!rec.State.Running) return noContent(c.res, 304);
      await stop(rec, c.query.has('t') ? Number(c.query.get('t')) : 10);
      noContent(c.res);
    })
    .on('POST', '/containers/{id}/restart', async (c) => {
      const rec = find(c.params.id);
      await stop(rec, c.query.has('t') ? Number(c.query.get('t')) : 10);
      await runDetached(rec.Id, monitors);
      noContent(c.res);
    })
    .on('POST', '/containers/{id}/kill', (c) => {
      kill(find(c.params.id), c.query.get('signal') || 'SIGKILL');
      noContent(c.res);
    })
    .on('POST', '/containers/{id}/pause', (c) => {
      pause(find(c.params.id));
      noContent(c.res);
    })
    .on('POST', '/containers/{id}/unpause', (c) => {
      unpause(find(c.params.id));
      noContent(c.res);
    })
    .on('POST', '/containers/prune', async (c) => {
      const r = await pruneContainers();
      sendJson(c.res, 200, { ContainersDeleted: r.deleted, SpaceReclaimed: r.bytes });
    })
    .on('POST', '/containers/{id}/resize', (c) => {
      const [h, w] = sizeParams(c);
      const rec = find(c.params.id);
      if (!rec.State.Running) throw new ApiError(409, `Container ${rec.Id} is not running`);
      resizeContainerTty(rec, h, w);
      noContent(c.res, 200);
    })
    .on('DELETE', '/containers/{id}', async (c) => {
      await remove(find(c.params.id), boolParam(c.query, 'force'), boolParam(c.query, 'v'));
      noContent(c.res);
    });
}
