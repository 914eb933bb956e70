// `skiff system service` for the Engine API tests: started on a socket in
// the test's own root, stopped before that root goes; and the clients
// (docker, docker-compose, a shell pipeline of them) run against it, each
// with a config dir of its own (nothing from ~/.docker).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { cli, runProcess, type Result } from './_harness.js';

export const DOCKER = '/usr/bin/docker';
/** The docker 28 client these machines ship (not from apt); it speaks API 1.50 and negotiates down. */
export const DOCKER28 = '/usr/local/bin/docker';

export interface Service {
  sock: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** What the service printed on stderr so far. */
  log(): string;
}

export function ping(sock: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The service on ROOT/api.sock, with the test's environment plus `env`; ready when /_ping answers. */
export async function startService(t: ExecutionContext, h: { root: string; env(): NodeJS.ProcessEnv }, env: NodeJS.ProcessEnv = {}): Promise<Service> {
  const sock = join(h.root, 'api.sock');
  const proc = spawn(process.execPath, [cli, 'system', 'service', '--host', `unix://${sock}`], { env: { ...h.env(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  // Registered after the harness's teardown, so it runs first: the service stops before the root goes.
  t.teardown(async () => {
    await stop();
    if (log) t.log(log.trim());
  });
  for (let i = 0; ; i++) {
    try {
      if ((await ping(sock)) === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 200 || proc.exitCode !== null) throw new Error(`the service did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { sock, proc, stop, log: () => log };
}

export interface ClientOptions {
  /** The program (default: Debian's docker CLI). */
  bin?: string;
  input?: string;
  /** args[0] is a shell line (`docker save x | docker load`). */
  shell?: boolean;
  /** A config dir to share between calls (docker login); default: a fresh one. */
  config?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** A client program against the service (DOCKER_HOST points at it). */
export function client(t: ExecutionContext, svc: Service, args: string[], opts: ClientOptions = {}): Promise<Result> {
  const config = opts.config ?? mkdtempSync('/tmp/skiff-test-docker-config-');
  if (!opts.config) t.teardown(() => rmSync(config, { recursive: true, force: true }));
  const env = { ...process.env, DOCKER_CONFIG: config, DOCKER_HOST: `unix://${svc.sock}`, DOCKER_CONTEXT: '', ...opts.env };
  const run = { cwd: opts.cwd, env, input: opts.input, timeoutMs: 120_000 };
  return opts.shell ? runProcess('/bin/sh', ['-c', args[0]], run) : runProcess(opts.bin ?? DOCKER, args, run);
}
