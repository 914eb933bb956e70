// /containers/{id}/exec, /exec/{id}/start and /exec/{id}/json. Exec
// instances live in this service's memory, as in Docker's daemon; the process
// runs through the CLI's execInContainer with its stdio on pipes that this
// module streams to the client, or with Tty on a terminal of the container's
// own devpts whose master is relayed raw, as `skiff exec -t` does.
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { close, pipe, setWinsize } from '../../native-bindings/libc.js';
import { execInContainer } from '../container/exec.js';
import { relayedPtyIo, type ContainerIo } from '../container/io.js';
import type { Pty } from '../container/pty.js';
import { consoleSize, sizeParams } from './tty.js';
import { find } from './containers.js';
import { ApiError, readJson, sendJson, type Ctx, type Router } from './router.js';
import { endStream, openStream, streamWriter, STDERR, STDOUT } from './stream.js';

interface ExecConfig {
  Cmd?: string[]; Env?: string[] | null; WorkingDir?: string; User?: string; Tty?: boolean; Privileged?: boolean;
  AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean; Detach?: boolean; ConsoleSize?: [number, number] | null;
}

interface ExecInstance {
  id: string; containerId: string; config: ExecConfig; running: boolean; exitCode: number | null; started: boolean;
  /** With Tty, while the process runs: its terminal, for resize. */
  pty?: Pty;
  /** The last size asked for, applied when the terminal is made (a resize may come first). */
  size?: [number, number];
}

const instances = new Map<string, ExecInstance>();
/** Finished instances are forgotten after a while, as the daemon does. */
const KEEP_MS = 5 * 60_000;

async function create(c: Ctx): Promise<void> {
  const cfg = await readJson<ExecConfig>(c.req);
  if (!Array.isArray(cfg.Cmd) || cfg.Cmd.length === 0 || !cfg.Cmd.every((w) => typeof w === 'string')) throw new ApiError(400, 'No exec command specified');
  const rec = find(c.params.id);
  if (!rec.State.Running) throw new ApiError(409, `Container ${rec.Id} is not running`);
  if (rec.State.Paused) throw new ApiError(409, `Container ${rec.Id} is paused, unpause the container before exec`);
  const id = randomBytes(32).toString('hex');
  instances.set(id, { id, containerId: rec.Id, config: cfg, running: false, exitCode: null, started: false });
  sendJson(c.res, 201, { Id: id });
}

function instance(id: string): ExecInstance {
  const inst = instances.get(id);
  if (!inst) throw new ApiError(404, `No such exec instance: ${id}`);
  return inst;
}

/** Pipes for the process's stdio; output goes to `write` as it comes. */
function pipedIo(write: (stream: number, data: Buffer) => void, input: Readable | undefined): ContainerIo {
  const [outR, outW] = pipe();
  const [errR, errW] = pipe();
  const [inR, inW] = input ? pipe() : [openSync('/dev/null', 'r'), -1];
  let done: Promise<unknown> = Promise.resolve();
  const drain = (fd: number, stream: number) => new Promise<void>((resolve) => {
    const s = createReadStream('', { fd });
    s.on('data', (d) => write(stream, d as Buffer));
    s.on('close', resolve);
    s.on('error', () => resolve());
  });
  let childEnds = true;
  const dropChildEnds = () => {
    if (!childEnds) return;
    childEnds = false;
    close(outW);
    close(errW);
    if (input) close(inR);
    else closeSync(inR);
  };
  return {
    stdio: { fds: [inR, outW, errW] },
    started() {
      dropChildEnds();
      done = Promise.all([drain(outR, STDOUT), drain(errR, STDERR)]);
      if (input) {
        const w = createWriteStream('', { fd: inW });
        w.on('error', () => {});
        input.pipe(w);
      }
    },
    async finish() {
      const wasStarted = !childEnds;
      dropChildEnds();
      if (wasStarted) await done;
      else {
        close(outR);
        close(errR);
        if (inW >= 0) close(inW);
      }
    },
  };
}

async function start(c: Ctx): Promise<void> {
  const inst = instance(c.params.id);
  const body = await readJson<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>(c.req, c.hijack);
  if (inst.started) throw new ApiError(409, `exec ${inst.id} has already been started`);
  inst.started = true;
  const cfg = inst.config;
  const detach = !!body.Detach || !!cfg.Detach;
  const opts = { cmd: cfg.Cmd!, env: (cfg.Env ?? []).filter((e) => e.includes('=')), workdir: cfg.WorkingDir || undefined, user: cfg.User || undefined };
  const finish = (code: number) => {
    inst.running = false;
    inst.exitCode = code;
    setTimeout(() => instances.delete(inst.id), KEEP_MS).unref();
  };
  if (detach) {
    inst.running = true;
    const code = await execInContainer(inst.containerId, { ...opts, detach: true });
    finish(code);
    if (c.hijack) c.hijack.socket.end('HTTP/1.1 204 No Content\r\n\r\n');
    else c.res.writeHead(204).end();
    return;
  }
  // With Tty the output is one raw stream, as the client expects.
  const tty = !!(body.Tty ?? cfg.Tty);
  inst.size ??= consoleSize(body.ConsoleSize) ?? consoleSize(cfg.ConsoleSize);
  const out: Duplex | ServerResponse = openStream(c.res, c.hijack, tty);
  const write = streamWriter(out, tty);
  let input: Readable | undefined;
  if (cfg.AttachStdin && c.hijack) {
    const sock = c.hijack.socket;
    if (c.hijack.head.length) sock.unshift(c.hijack.head);
    input = sock;
  }
  inst.running = true;
  try {
    const io = tty
      ? (makePty: () => Pty) => {
        const pty = makePty();
        inst.pty = pty;
        if (inst.size) setWinsize(pty.master, ...inst.size);
        const relayed = relayedPtyIo(pty, { output: out, input });
        const done = relayed.finish;
        // No resize once the master is on its way to being closed (its fd number could be reused).
        relayed.finish = () => { inst.pty = undefined; return done(); };
        return relayed;
      }
      : pipedIo(write, input);
    finish(await execInContainer(inst.containerId, { ...opts, tty, io }));
  } catch (e) {
    // After the 101 there is no status line left: the message goes down the stream, as Docker's does.
    write(STDERR, Buffer.from(`${(e as Error).message}\n`));
    finish((e as Error & { exitCode?: number }).exitCode ?? 126);
  }
  endStream(out);
}

/** TIOCSWINSZ on the exec's terminal, which this service holds; before the start, remembered for it. */
function resize(c: Ctx): void {
  const inst = instance(c.params.id);
  const size = sizeParams(c);
  inst.size = size;
  if (inst.pty) setWinsize(inst.pty.master, ...size);
  c.res.writeHead(200).end();
}

function inspect(c: Ctx): void {
  const inst = instance(c.params.id);
  const cfg = inst.config;
  sendJson(c.res, 200, {
    ID: inst.id, Running: inst.running, ExitCode: inst.exitCode, ContainerID: inst.containerId, Pid: 0,
    OpenStdin: !!cfg.AttachStdin, OpenStdout: !!cfg.AttachStdout, OpenStderr: !!cfg.AttachStderr, CanRemove: false, DetachKeys: '',
    ProcessConfig: { tty: !!cfg.Tty, entrypoint: cfg.Cmd![0], arguments: cfg.Cmd!.slice(1), privileged: !!cfg.Privileged, user: cfg.User ?? '' },
  });
}

export function execRoutes(r: Router): void {
  r.on('POST', '/containers/{id}/exec', create)
    .on('POST', '/exec/{id}/start', start)
    .on('POST', '/exec/{id}/resize', resize)
    .on('GET', '/exec/{id}/json', inspect);
}
