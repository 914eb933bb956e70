// `skiff build`: Docker's classic builder. Each instruction turns the
// current image into a new one: config-only instructions write a new config;
// RUN runs a container of the current image (the same machinery as `skiff
// run`) and commits its upper dir as a layer; COPY/ADD write a layer straight
// from the context. Every step's result is an image in the store, and a
// cache maps (parent image, instruction, content of copied files) to it.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, lstatSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { join, posix } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import * as tar from 'tar-stream';
import { createContainer } from '../container/create.js';
import { refresh, remove, waitStopped } from '../container/lifecycle.js';
import { runAttached, runDetached } from '../container/run.js';
import { parseLogLines } from '../container/logs.js';
import * as containers from '../container/store.js';
import { resolveUser } from '../container/user.js';
import { type Descriptor, type ImageConfig, type ImageStore, makeManifest, MEDIA } from '../image/store.js';
import { ensureImage } from '../registry/pull.js';
import { SkiffError } from '../util/errors.js';
import { parseId } from '../util/numbers.js';
import { mark } from '../util/trace.js';
import { sleep } from '../util/proc.js';
import { readJsonOr, writeJsonAtomic } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { decompressed, isGzip, peek } from '../util/stream.js';
import { applyChange, commandForm } from './changes.js';
import { commitContainer } from './commit.js';
import { contentHash, contextRoot, resolveSources, type SourceRoot, walk, withImageRootfs } from './context.js';
import { expandVariables, expandWords, type Instruction, parseDockerfile } from './dockerfile.js';

export interface BuildOptions {
  context: string;
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  noCache?: boolean;
  target?: string;
  quiet?: boolean;
  network?: string;
  out: Writable;
  /** LABELs added to the final image (`docker build --label`). */
  labels?: Record<string, string>;
  /**
   * Where RUN output goes: the caller's terminal (the CLI), or `out` (the
   * Engine API, whose terminal is the client's, at the far end of `out`).
   */
  runOutput?: 'terminal' | 'out';
  /** Called with the final image's ID just before "Successfully built". */
  onBuilt?: (id: string) => void;
  /** Aborted: the build stops at the next step, a running RUN is killed (the API's client went away). */
  signal?: AbortSignal;
}

/** Docker's limit: an image may have at most 127 layers. */
export const MAX_LAYERS = 127;

interface State { id: string | undefined; config: ImageConfig }

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

export async function build(images: ImageStore, opts: BuildOptions): Promise<string> {
  images.sweepTemporaries();
  const root = contextRoot(opts.context);
  const file = opts.dockerfile ?? join(opts.context, 'Dockerfile');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new SkiffError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${file}: no such file or directory`, 1);
  }
  // Docker's --label: a LABEL instruction appended to the Dockerfile, so it is a step (and cached) like any other.
  const labels = Object.entries(opts.labels ?? {});
  const quote = (s: string) => JSON.stringify(s).replace(/\$/g, '\\$'); // a literal $, not a variable
  if (labels.length) text = `${text}\nLABEL ${labels.map(([k, v]) => `${quote(k)}=${quote(v)}`).join(' ')}\n`;
  const df = parseDockerfile(text, posix.basename(file));
  const say = (line: string) => { if (!opts.quiet) opts.out.write(`${line}\n`); };
  const cache = new BuildCache(images);
  const globalArgs: Record<string, string> = {};
  for (const a of df.globalArgs) Object.assign(globalArgs, argValue(a, opts.buildArgs ?? {}, globalArgs, df.escape));

  const stageIds: string[] = [];
  const stageNames = new Map<string, number>();
  const lastStage = opts.target !== undefined ? df.stages.findIndex((s) => s.name === opts.target?.toLowerCase()) : df.stages.length - 1;
  if (lastStage < 0) throw new SkiffError(`failed to reach build target ${opts.target} in Dockerfile`, 1);
  let step = 0;
  const total = df.stages.slice(0, lastStage + 1).reduce((n, s) => n + 1 + s.instructions.length, 0);
  let state: State = { id: undefined, config: scratchConfig() };

  for (const [si, stage] of df.stages.slice(0, lastStage + 1).entries()) {
    const fail = (ins: { line: number }, msg: string) => new SkiffError(`${posix.basename(file)}:${ins.line}: ${msg}`, 1);
    // FROM
    const base = expandVariables(stage.base, globalArgs, df.escape);
    say(`Step ${++step}/${total} : ${stage.from.text}`);
    if (base === 'scratch') state = { id: undefined, config: scratchConfig() };
    else if (stageNames.has(base.toLowerCase())) state = stateOf(images, stageIds[stageNames.get(base.toLowerCase())!]);
    else {
      try {
        state = stateOf(images, (await ensureImage(images, base, { out: opts.out })).id);
      } catch (e) {
        throw fail({ line: stage.fromLine }, (e as Error).message);
      }
    }
    if (state.id) say(` ---> ${short(state.id)}`);
    const args: Record<string, string> = {};
    const vars = () => ({ ...envMap(state.config), ...args });

    // ONBUILD triggers of the base image run first, as Docker does.
    const triggers = (state.config.config as { OnBuild?: string[] } | undefined)?.OnBuild ?? [];
    const instructions = [...triggers.flatMap((t) => parseDockerfile(`FROM scratch\n${t}`).stages[0].instructions), ...stage.instructions];
    if (triggers.length) {
      const key = cache.key(state.id, '#onbuild-consumed', '');
      const hit = !opts.noCache && cache.get(key);
      state = hit ? stateOf(images, hit) : await configStep(images, state, (c) => { (c.config as { OnBuild?: string[] }).OnBuild = []; }, '#(nop) ONBUILD consumed');
      cache.set(key, state.id!);
    }

    for (const ins of instructions) {
      if (opts.signal?.aborted) throw new SkiffError('build cancelled', 1);
      say(`Step ${++step}/${total} : ${ins.text}`);
      mark('build-step');
      const key = cache.key(state.id, ins.text, JSON.stringify(args));
      try {
        switch (ins.keyword) {
          case 'ARG':
            Object.assign(args, argValue(ins, opts.buildArgs ?? {}, globalArgs, df.escape));
            continue;
          case 'RUN': {
            const hit = !opts.noCache && cache.get(key);
            if (hit) {
              say(' ---> Using cache');
              state = stateOf(images, hit);
              break;
            }
            if (!state.id) throw new SkiffError('RUN needs a base image with a shell; FROM scratch has none');
            if (state.config.rootfs.diff_ids.length >= MAX_LAYERS) throw new SkiffError(`max depth exceeded: an image has at most ${MAX_LAYERS} layers`);
            const shell = (state.config.config as { Shell?: string[] } | undefined)?.Shell ?? ['/bin/sh', '-c'];
            const cmd = ins.json ?? [...shell, ins.args];
            state = stateOf(images, await runStep(images, state.id, cmd, args, opts, say));
            cache.set(key, state.id!);
            break;
          }
          case 'COPY':
          case 'ADD': {
            if (state.config.rootfs.diff_ids.length >= MAX_LAYERS) throw new SkiffError(`max depth exceeded: an image has at most ${MAX_LAYERS} layers`);
            const from = ins.flags.from;
            const fromId = from === undefined ? undefined
              : stageNames.has(from.toLowerCase()) ? stageIds[stageNames.get(from.toLowerCase())!]
                : /^\d+$/.test(from) ? stageIds[Number(from)] : (await ensureImage(images, from, { out: opts.out })).id;
            if (from !== undefined && !fromId) throw new SkiffError(`invalid from flag value ${from}: no such stage or image`);
            state = await copyStep(images, state, ins, fromId === undefined ? root : undefined, fromId, vars(), df.escape, cache, opts, say);
            break;
          }
          default: {
            // Config-only steps are cached too: a new config has a new
            // timestamp, so a miss here would miss every later step.
            const hit = !opts.noCache && cache.get(key);
            if (hit) {
              say(' ---> Using cache');
              state = stateOf(images, hit);
              break;
            }
            state = await configInstruction(images, state, ins, vars(), df.escape);
            cache.set(key, state.id!);
          }
        }
      } catch (e) {
        const err = e as SkiffError;
        if (err.message.startsWith(`${posix.basename(file)}:`)) throw err;
        throw fail(ins, err.message);
      }
      say(` ---> ${short(state.id!)}`);
    }
    if (!state.id) {
      const key = cache.key(undefined, '#scratch', '');
      state = cache.get(key) ? stateOf(images, cache.get(key)!) : await configStep(images, state, () => {}, '#(nop) scratch');
      cache.set(key, state.id!);
    }
    stageIds[si] = state.id!;
    if (stage.name) stageNames.set(stage.name, si);
  }
  const finalId = state.id!;
  const tags = opts.tags ?? [];
  if (tags.length) images.tag(finalId, tags);
  opts.onBuilt?.(finalId);
  say(`Successfully built ${short(finalId)}`);
  for (const t of tags) say(`Successfully tagged ${t}`);
  if (opts.quiet) opts.out.write(`${finalId}\n`);
  return finalId;
}

function scratchConfig(): ImageConfig {
  return { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}

function stateOf(images: ImageStore, id: string): State {
  return { id, config: structuredClone(images.get(id).config) };
}

function envMap(c: ImageConfig): Record<string, string> {
  return Object.fromEntries((c.config?.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/** ARG NAME[=default] ...: the --build-arg value wins, then the default, then a global ARG of that name. */
function argValue(ins: Instruction, buildArgs: Record<string, string>, globals: Record<string, string>, escape: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of ins.pairs ?? []) {
    const name = expandVariables(p.key, {}, escape);
    const def = p.value === undefined ? undefined : expandVariables(p.value, { ...globals, ...out }, escape);
    const value = buildArgs[name] ?? def ?? globals[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Stores an image whose config changed but whose layers did not. */
async function configStep(images: ImageStore, state: State, change: (c: ImageConfig) => void, createdBy: string): Promise<State> {
  const config = structuredClone(state.config);
  config.config = config.config ?? {};
  change(config);
  const created = new Date().toISOString();
  config.created = created;
  config.history = [...(config.history ?? []), { created, created_by: `/bin/sh -c ${createdBy}`, empty_layer: true }];
  const layers = state.id ? images.manifest(state.id).manifest.layers : [];
  return { id: storeImage(images, config, layers), config };
}

function storeImage(images: ImageStore, config: ImageConfig, layers: Descriptor[]): string {
  const bytes = Buffer.from(JSON.stringify(config));
  const digest = images.putBlobBytes(bytes);
  return images.addImage(makeManifest({ mediaType: MEDIA.ociConfig, digest, size: bytes.length }, layers));
}

async function configInstruction(images: ImageStore, state: State, ins: Instruction, vars: Record<string, string>, escape: string): Promise<State> {
  const x = (s: string) => expandVariables(s, vars, escape);
  const nop = `#(nop) ${ins.keyword} ${ins.args}`.trim();
  switch (ins.keyword) {
    case 'MAINTAINER':
      return configStep(images, state, (c) => { c.author = ins.args.trim(); }, nop);
    case 'CMD':
    case 'ENTRYPOINT':
      return configStep(images, state, (c) => {
        const shell = (c.config as { Shell?: string[] }).Shell;
        const form = ins.json ?? (shell ? [...shell, ins.args] : commandForm(ins.args));
        if (ins.keyword === 'CMD') c.config!.Cmd = form;
        else c.config!.Entrypoint = form;
      }, nop);
    case 'ENV':
    case 'LABEL': {
      // Docker expands keys and values (and removes their quotes); ENV sees earlier pairs of the same line.
      return configStep(images, state, (c) => {
        const seen = { ...vars };
        for (const p of ins.pairs ?? []) {
          const k = expandVariables(p.key, seen, escape);
          const v = expandVariables(p.value ?? '', seen, escape);
          if (ins.keyword === 'ENV') seen[k] = v;
          applyChange(c.config!, `${ins.keyword} ${k}=${JSON.stringify(v)}`);
        }
      }, nop);
    }
    case 'EXPOSE':
    case 'USER':
    case 'STOPSIGNAL':
    case 'VOLUME':
      return configStep(images, state, (c) => applyChange(c.config!, `${ins.keyword} ${ins.json ? JSON.stringify(ins.json.map(x)) : x(ins.args)}`), nop);
    case 'WORKDIR':
      return configStep(images, state, (c) => { c.config!.WorkingDir = posix.resolve(c.config!.WorkingDir || '/', x(ins.args.trim())); }, nop);
    case 'SHELL':
      if (!ins.json) throw new SkiffError('SHELL requires the arguments to be in JSON form');
      return configStep(images, state, (c) => { (c.config as { Shell?: string[] }).Shell = ins.json; }, nop);
    case 'HEALTHCHECK':
      return configStep(images, state, (c) => {
        const hc = ins.healthcheck;
        (c.config as { Healthcheck?: unknown }).Healthcheck = hc && {
          Test: hc.test, Interval: hc.interval, Timeout: hc.timeout, StartPeriod: hc.startPeriod, Retries: hc.retries,
        };
      }, nop);
    case 'ONBUILD':
      return configStep(images, state, (c) => {
        const cfg = c.config as { OnBuild?: string[] };
        cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.args.trim()];
      }, nop);
    default:
      throw new SkiffError(`unknown instruction: ${ins.keyword}`);
  }
}

/** RUN: a container of the current image, its output streamed, then committed. */
async function runStep(images: ImageStore, id: string, cmd: string[], args: Record<string, string>, opts: BuildOptions,
  say: (l: string) => void): Promise<string> {
  const rec = createContainer({
    image: id, cmd, entrypoint: '', env: Object.entries(args).map(([k, v]) => `${k}=${v}`),
    net: { network: opts.network ?? 'none' }, ephemeral: true,
  }, images);
  try {
    say(` ---> Running in ${short(rec.Id)}`);
    const code = opts.runOutput === 'out' ? await runStreaming(rec.Id, opts.quiet ? new Writable({ write: (_c, _e, cb) => cb() }) : opts.out, opts.signal)
      : opts.quiet ? await runQuietly(rec.Id) : await runAttached(rec.Id);
    mark('build-run-exited');
    if (code !== 0) throw new SkiffError(`The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, 1);
    return await commitContainer(images, rec.Id);
  } finally {
    say(`Removing intermediate container ${short(rec.Id)}`);
    const still = (() => { try { return containers.read(rec.Id); } catch { return undefined; } })();
    if (still) await remove(still, true);
  }
}

/** For -q: the RUN's output goes to the container's log instead of our terminal. */
async function runQuietly(id: string): Promise<number> {
  await runDetached(id);
  await waitStopped(id);
  return containers.read(id).State.ExitCode;
}

/** For the Engine API: the RUN's output (stdout and stderr, as Docker's classic builder) copied from its log to `out` as it comes. */
async function runStreaming(id: string, out: Writable, signal?: AbortSignal): Promise<number> {
  await runDetached(id);
  const fd = openSync(containers.read(id).LogPath, 'r');
  let pos = 0;
  let rest = Buffer.alloc(0);
  const buf = Buffer.alloc(64 * 1024);
  const pump = (final: boolean) => {
    for (let n; (n = readSync(fd, buf, 0, buf.length, pos)) > 0;) {
      pos += n;
      rest = Buffer.concat([rest, buf.subarray(0, n)]);
    }
    const cut = final ? rest.length : rest.lastIndexOf(0x0a) + 1;
    for (const l of parseLogLines(rest.subarray(0, cut).toString('utf8'))) out.write(l.log);
    rest = rest.subarray(cut);
  };
  try {
    let stopped = false;
    const done = waitStopped(id).finally(() => { stopped = true; });
    while (!stopped) {
      // runStep's cleanup force-removes (kills) the container.
      if (signal?.aborted) throw new SkiffError('build cancelled', 1);
      pump(false);
      await Promise.race([done, sleep(50)]);
    }
    pump(true);
  } finally {
    closeSync(fd);
  }
  return refresh(containers.read(id)).State.ExitCode;
}

/** COPY/ADD: a layer written straight from the sources, no container needed. */
async function copyStep(images: ImageStore, state: State, ins: Instruction, context: SourceRoot | undefined, fromId: string | undefined,
  vars: Record<string, string>, escape: string, cache: BuildCache, opts: BuildOptions, say: (l: string) => void): Promise<State> {
  const words = ins.json?.map((w) => expandVariables(w, vars, escape)) ?? expandWords(ins.args, vars, escape);
  if (words.length < 2) throw new SkiffError(`${ins.keyword} requires at least two arguments, but only one was provided`);
  const srcs = words.slice(0, -1);
  if (srcs.some((s) => /^https?:\/\//.test(s))) {
    throw new SkiffError(`${ins.keyword} from a URL is not supported: skiff builds without network access; download the file into the context and COPY it`);
  }
  const run = async (root: SourceRoot): Promise<State> => {
    const sources = srcs.flatMap((s) => resolveSources(root, s, ins.keyword));
    const key = cache.key(state.id, ins.text, contentHash(root, sources));
    const hit = !opts.noCache && cache.get(key);
    if (hit) {
      say(' ---> Using cache');
      return stateOf(images, hit);
    }
    const owner = ins.flags.chown ? await resolveOwner(images, state.id, ins.flags.chown) : { uid: 0, gid: 0 };
    const dest = posix.resolve(state.config.config?.WorkingDir || '/', words[words.length - 1]);
    const destIsDir = words[words.length - 1].endsWith('/') || sources.length > 1 || lstatSync(join(root.dir, sources[0])).isDirectory();
    const extract = ins.keyword === 'ADD' && sources.length === 1 && await isArchive(join(root.dir, sources[0]));
    const layer = layerFrom(root, sources, dest, destIsDir || extract, owner, extract);
    const blob = await images.putBlob(layer);
    await images.unpackBlob(blob.digest, blob.digest);
    const config = structuredClone(state.config);
    const created = new Date().toISOString();
    config.created = created;
    config.rootfs = { type: 'layers', diff_ids: [...config.rootfs.diff_ids, blob.digest] };
    config.history = [...(config.history ?? []), { created, created_by: `/bin/sh -c #(nop) ${ins.keyword} ${srcs.join(' ')} in ${dest}` }];
    const layers = [...(state.id ? images.manifest(state.id).manifest.layers : []), { mediaType: MEDIA.ociLayer, digest: blob.digest, size: blob.size }];
    const id = storeImage(images, config, layers);
    cache.set(key, id);
    return { id, config };
  };
  if (context) return run(context);
  return withImageRootfs(images, fromId, (dir) => run({ dir, ignore: null, label: 'image' }));
}

async function isArchive(path: string): Promise<boolean> {
  if (!lstatSync(path).isFile()) return false;
  const head = await peek(createReadStream(path, { end: 511 }));
  return isGzip(head) || (head.length >= 262 && head.subarray(257, 262).toString() === 'ustar');
}

async function resolveOwner(images: ImageStore, id: string | undefined, spec: string): Promise<{ uid: number; gid: number }> {
  if (/^\d+(:\d+)?$/.test(spec)) {
    const [u, g] = spec.split(':').map((x) => parseId(x, '--chown id'));
    return { uid: u, gid: g ?? u };
  }
  return withImageRootfs(images, id, async (dir) => {
    const read = (f: string) => { try { return readFileSync(join(dir, f), 'utf8'); } catch { return ''; } };
    const u = resolveUser(spec, read('etc/passwd'), read('etc/group'));
    return { uid: u.uid, gid: spec.includes(':') ? u.gid : u.gid };
  });
}

/** The tar of a COPY: parent directories of the destination, then each source under it. */
function layerFrom(root: SourceRoot, sources: string[], dest: string, destIsDir: boolean, owner: { uid: number; gid: number }, extract: boolean): Readable {
  const pack = tar.pack();
  const put = (h: Parameters<tar.Pack['entry']>[0], body?: Readable) => new Promise<void>((resolve, reject) => {
    if (!body) return void pack.entry(h, Buffer.alloc(0), (e) => (e ? reject(e) : resolve()));
    body.pipe(pack.entry(h, (e) => (e ? reject(e) : resolve())) as unknown as NodeJS.WritableStream);
  });
  const go = async () => {
    const destDir = destIsDir ? dest : posix.dirname(dest);
    const parts = destDir.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) await put({ name: `${parts.slice(0, i).join('/')}/`, type: 'directory', mode: 0o755 });
    for (const src of sources) {
      if (extract) {
        await copyArchive(join(root.dir, src), destDir.replace(/^\//, ''), pack);
        continue;
      }
      const srcIsDir = lstatSync(join(root.dir, src)).isDirectory();
      for (const f of walk(root, src)) {
        const abs = join(root.dir, f);
        const st = lstatSync(abs);
        const rel = srcIsDir ? posix.relative(src, f) : posix.basename(f);
        const target = (destIsDir ? posix.join(destDir, rel) : dest).replace(/^\//, '');
        if (!target || (srcIsDir && rel === '')) continue;
        const h = { name: target, mode: st.mode & 0o7777, uid: owner.uid, gid: owner.gid, mtime: st.mtime };
        if (st.isDirectory()) await put({ ...h, name: `${target}/`, type: 'directory' });
        else if (st.isSymbolicLink()) await put({ ...h, type: 'symlink', linkname: readlinkSync(abs) });
        else if (st.isFile()) await put({ ...h, type: 'file', size: st.size }, createReadStream(abs));
      }
    }
  };
  go().then(() => pack.finalize(), (e) => pack.destroy(e));
  return pack as unknown as Readable;
}

/** ADD of a local tar: its entries land under the destination directory. */
async function copyArchive(path: string, destDir: string, pack: tar.Pack): Promise<void> {
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => { extract.on('finish', resolve); extract.on('error', reject); });
  extract.on('entry', (h, stream, next) => {
    const name = posix.join(destDir, posix.normalize(h.name.replace(/^\/+/, '')));
    if (name.startsWith('..')) return next(new SkiffError(`ADD: archive entry ${h.name} escapes the destination`));
    const sink = pack.entry({ ...h, name }, (e) => next(e ?? undefined));
    stream.pipe(sink as unknown as NodeJS.WritableStream);
  });
  (await decompressed(createReadStream(path))).pipe(extract);
  await done;
}

/** The classic builder's cache: step key -> the image that step produced. */
class BuildCache {
  private file: string;
  constructor(private images: ImageStore) {
    this.file = join(images.dir, 'build-cache.json');
  }
  key(parent: string | undefined, text: string, extra: string): string {
    return createHash('sha256').update(`${parent ?? 'scratch'}\n${text}\n${extra}`).digest('hex');
  }
  get(key: string): string | undefined {
    const id = readJsonOr<Record<string, string>>(this.file, {})[key];
    return id && this.images.ids().includes(id) ? id : undefined;
  }
  set(key: string, id: string): void {
    withLock('build-cache', () => {
      const all = readJsonOr<Record<string, string>>(this.file, {});
      all[key] = id;
      writeJsonAtomic(this.file, all);
    });
  }
}
