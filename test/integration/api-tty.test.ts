// Terminals through `skiff system service`: the docker CLI (Debian's
// docker.io 20.10 and docker 28) run under a real pty, as a user at a
// terminal runs it, for `docker run -it`, `docker exec -it` and `docker
// attach`. Each test starts its own service on a socket in its own root;
// containers use --network none.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { harness, it } from './_harness.js';
import { DOCKER, DOCKER28, startService, type Service } from './_service.js';

const TOOLS = { [DOCKER]: 'docker.io', python3: 'python3' };

/**
 * A pty for the docker CLI, made by python3: the terminal's size is set with
 * `stty rows R cols C` before docker starts, as a user's terminal has one;
 * our writes are the user's keystrokes, and a line "ROWS COLS" on fd 3
 * resizes the terminal (the kernel sends docker its SIGWINCH). It exits with
 * docker's exit status.
 */
const PTY_BRIDGE = `
import os, sys, select, fcntl, termios, struct
m, s = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2): os.dup2(s, fd)
    os.close(m); os.close(s)
    os.execv('/bin/sh', ['sh', '-c', 'stty rows "$1" cols "$2" && shift 2 && exec "$@"', 'sh'] + sys.argv[1:])
os.close(s)
ctl = b''
open_fds = [m, 0, 3]
while m in open_fds:
    r, _, _ = select.select(open_fds, [], [])
    if m in r:
        try: d = os.read(m, 65536)
        except OSError: d = b''
        if not d: break
        os.write(1, d)
    if 0 in r:
        d = os.read(0, 4096)
        if d: os.write(m, d)
        else: open_fds.remove(0)
    if 3 in r:
        d = os.read(3, 4096)
        if not d: open_fds.remove(3)
        ctl += d
        while b'\\n' in ctl:
            line, ctl = ctl.split(b'\\n', 1)
            rows, cols = map(int, line.split())
            fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

/** The docker CLI at a terminal: type into it, wait for what it shows, resize it. */
class Terminal {
  private readonly proc: ChildProcess;
  /** Everything the terminal showed so far. */
  screen = '';
  private seen = 0;
  readonly exit: Promise<number>;

  constructor(t: ExecutionContext, docker: string, svc: Service, args: string[], size: [number, number] = [40, 100]) {
    const config = mkdtempSync('/tmp/skiff-test-docker-config-');
    t.teardown(() => rmSync(config, { recursive: true, force: true }));
    this.proc = spawn('python3', ['-c', PTY_BRIDGE, String(size[0]), String(size[1]), docker, '-H', `unix://${svc.sock}`, ...args], {
      env: { ...process.env, DOCKER_CONFIG: config, DOCKER_HOST: '', DOCKER_CONTEXT: '', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
    });
    this.proc.stdout!.on('data', (d: Buffer) => (this.screen += d.toString()));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 60_000);
    // 'close', not 'exit': only then has all the terminal's output been read.
    this.exit = new Promise((resolve) => this.proc.once('close', (code) => {
      clearTimeout(timer);
      resolve(code ?? 137);
    }));
    t.teardown(() => { if (this.proc.exitCode === null) this.proc.kill('SIGKILL'); });
  }

  type(keys: string): void {
    this.proc.stdin!.write(keys);
  }

  resize(rows: number, cols: number): void {
    (this.proc.stdio[3] as NodeJS.WritableStream).write(`${rows} ${cols}\n`);
  }

  /** Waits until the terminal shows `re` after what earlier waits consumed; returns the match. */
  async waitFor(re: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
    const until = Date.now() + ms;
    for (;;) {
      const m = this.screen.slice(this.seen).match(re);
      if (m) {
        this.seen += m.index! + m[0].length;
        return m;
      }
      if (Date.now() > until || this.proc.exitCode !== null) throw new Error(`the terminal never showed ${re}; it shows: ${JSON.stringify(this.screen.slice(this.seen))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Runs a shell command line and returns what it printed (the shell's prompt is "/ # "). */
  async run(line: string): Promise<string> {
    const mark = `__${Math.random().toString(36).slice(2, 8)}__`;
    this.type(`${line}; echo ${mark.slice(0, 4)}"${mark.slice(4)}"\r`);
    // The echoed command line comes first (that is the terminal's echo), then its output up to the mark.
    await this.waitFor(new RegExp(`${mark.slice(0, 4)}"${mark.slice(4)}"\\r\\n`));
    const m = await this.waitFor(new RegExp(`([\\s\\S]*?)${mark}\\r\\n`));
    return m[1];
  }
}

async function setup(t: ExecutionContext) {
  const h = await harness(t);
  const svc = await startService(t, h);
  const d = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(DOCKER, ['-H', `unix://${svc.sock}`, ...args], { env: { ...process.env, DOCKER_HOST: '', DOCKER_CONTEXT: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('close', (code) => resolve({ code: code ?? 137, stdout, stderr }));
  });
  return { h, svc, d };
}

/** The checks a user makes at a container's shell: a terminal on stdin and stdout, its size, echo. */
async function checkShell(t: ExecutionContext, term: Terminal, what: string): Promise<void> {
  t.regex(await term.run('tty'), /^\/dev\/pts\/\d+\r\n$/, `${what}: tty names the container's terminal`);
  t.is(await term.run('test -t 0 && test -t 1 && echo both'), 'both\r\n', `${what}: stdin and stdout are terminals`);
  t.is(await term.run('stty size'), '40 100\r\n', `${what}: the outer terminal's size`);
  term.resize(33, 77);
  let size = '';
  for (let i = 0; i < 50 && size !== '33 77\r\n'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    size = await term.run('stty size');
  }
  t.is(size, '33 77\r\n', `${what}: a resize of the outer terminal reaches the container's`);
  // Typed text comes back through the container's line discipline (the client's terminal is raw), before any command runs.
  term.type('echo typed-by-hand');
  await term.waitFor(/echo typed-by-hand/);
  term.type('\r');
  await term.waitFor(/\r\ntyped-by-hand\r\n/);
}

for (const [client, docker] of [['docker 20.10', DOCKER], ['docker 28', DOCKER28]] as const) {
  it(`${client} run -it --rm under a pty: a terminal on stdin/stdout, its size and resizes, echo, exit 3, nothing left`, async (t) => {
    const { h, svc, d } = await setup(t);
    const term = new Terminal(t, docker, svc, ['run', '-it', '--rm', '--network', 'none', '--name', 'tt', 'busybox', 'sh']);
    await term.waitFor(/\/ # /);
    await checkShell(t, term, 'run -it');
    t.is(await term.run('echo $TERM'), 'xterm\r\n');
    term.type('exit 3\r');
    t.is(await term.exit, 3, 'the shell\'s exit status is docker\'s');
    t.is((await d('ps', '-aq')).stdout, '', '--rm removed it');
    t.deepEqual(h.containerIds(), []);
  }, { ...TOOLS, [docker]: 'docker.io' });

  it(`${client} exec -it under a pty: terminal, size, resize, echo, exit status; ^D ends it`, async (t) => {
    const { h, svc, d } = await setup(t);
    t.is((await d('run', '-d', '--network', 'none', '--name', 'bg', 'busybox', 'sleep', '300')).code, 0);
    const term = new Terminal(t, docker, svc, ['exec', '-it', 'bg', 'sh']);
    await term.waitFor(/\/ # /);
    await checkShell(t, term, 'exec -it');
    term.type('exit 3\r');
    t.is(await term.exit, 3);
    const again = new Terminal(t, docker, svc, ['exec', '-it', 'bg', 'sh']);
    await again.waitFor(/\/ # /);
    again.type('\x04'); // ^D at an empty prompt: the line discipline's EOF
    t.is(await again.exit, 0);
    t.is((await d('rm', '-f', 'bg')).code, 0);
    t.deepEqual(h.containerIds(), []);
  }, { ...TOOLS, [docker]: 'docker.io' });
}

it('docker run -it: ctrl-p ctrl-q detaches and the container runs on; docker attach gets its terminal back; ^D ends it', async (t) => {
  const { h, svc, d } = await setup(t);
  const term = new Terminal(t, DOCKER, svc, ['run', '-it', '--network', 'none', '--name', 'tt', 'busybox', 'sh']);
  await term.waitFor(/\/ # /);
  t.is(await term.run('echo before'), 'before\r\n');
  term.type('\x10\x11');
  t.is(await term.exit, 0, 'detached');
  t.is((await d('inspect', '-f', '{{.State.Running}}', 'tt')).stdout, 'true\n', 'the container runs on');
  const back = new Terminal(t, DOCKER, svc, ['attach', 'tt'], [25, 90]);
  // A fresh prompt: what was typed before the attach is not replayed.
  await new Promise((r) => setTimeout(r, 500));
  back.type('\r');
  await back.waitFor(/\/ # /);
  t.is(await back.run('stty size'), '25 90\r\n', 'attach sizes the terminal to the new client\'s');
  t.is(await back.run('echo after'), 'after\r\n');
  back.type('\x04');
  t.is(await back.exit, 0);
  t.is((await d('wait', 'tt')).stdout, '0\n');
  const logs = (await d('logs', 'tt')).stdout;
  t.regex(logs, /before/, 'the terminal\'s output is in the log too');
  t.regex(logs, /after/);
  t.is((await d('rm', 'tt')).code, 0);
  t.deepEqual(h.containerIds(), []);
}, TOOLS);

it('resize: bad sizes get 400, a stopped container 409, an unknown exec 404; no socket files are left behind', async (t) => {
  const { h, svc, d } = await setup(t);
  const post = (path: string) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request({ socketPath: svc.sock, path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (b) => (text += b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
  t.is((await d('run', '-dit', '--network', 'none', '--name', 'tt', 'busybox', 'sh')).code, 0);
  t.is((await post('/containers/tt/resize?h=12&w=34')).status, 200);
  t.is((await d('exec', 'tt', 'stty', '-F', '/dev/pts/0', 'size')).stdout, '12 34\n', 'a resize over plain HTTP');
  const bad = await post('/containers/tt/resize?h=x&w=34');
  t.is(bad.status, 400);
  t.regex(bad.text, /invalid syntax/);
  t.is((await post('/containers/tt/resize?h=70000&w=34')).status, 400);
  t.is((await post('/containers/nope/resize?h=1&w=1')).status, 404);
  t.is((await post('/exec/nope/resize?h=1&w=1')).status, 404);
  t.is((await d('stop', '-t', '1', 'tt')).code, 0);
  t.is((await post('/containers/tt/resize?h=12&w=34')).status, 409);
  const dir = join(h.root, 'containers', h.containerIds()[0]);
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.sock')), [], 'attach.sock and tty.sock are gone with the run');
  t.is((await d('rm', 'tt')).code, 0);
  t.false(existsSync(dir));
  // A -it run whose command cannot start: Docker's error and status, and no socket left either.
  const term = new Terminal(t, DOCKER, svc, ['run', '-it', '--network', 'none', '--name', 'bad', 'busybox', '/no/such/cmd']);
  t.is(await term.exit, 127);
  t.regex(term.screen, /no such file or directory/);
  const badDir = join(h.root, 'containers', h.containerIds()[0]);
  t.deepEqual(readdirSync(badDir).filter((f) => f.endsWith('.sock')), []);
  t.is((await d('rm', 'bad')).code, 0);
}, TOOLS);

it('a raw hijacked attach (no docker CLI): keystrokes go to the terminal, ?detachKeys= detaches on the server side', async (t) => {
  const { h, svc, d } = await setup(t);
  t.is((await d('run', '-dit', '--network', 'none', '--name', 'tt', 'busybox', 'sh')).code, 0);
  const sock = createConnection(svc.sock);
  let got = '';
  sock.on('data', (b) => (got += b.toString('latin1')));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.write('POST /v1.41/containers/tt/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,x HTTP/1.1\r\nHost: skiff\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  const until = async (re: RegExp) => {
    for (let i = 0; i < 500 && !re.test(got); i++) await new Promise((r) => setTimeout(r, 20));
    t.regex(got, re);
  };
  await until(/^HTTP\/1.1 101 UPGRADED\r\nContent-Type: application\/vnd.docker.raw-stream/);
  sock.write('echo $((6*7))\r');
  await until(/\r\n42\r\n/);
  // ctrl-x then x: a partial match followed by something else is passed on whole, the full one detaches.
  sock.write('\x18y\x18x');
  await closed;
  t.is((await d('inspect', '-f', '{{.State.Running}}', 'tt')).stdout, 'true\n', 'detaching leaves it running');
  t.is((await d('rm', '-f', 'tt')).code, 0);
  t.deepEqual(h.containerIds(), []);
}, TOOLS);
