// The one-Node start: the parent's main thread builds the container's root
// inside the child's namespaces and comes back (runtime/sandbox/enter.ts).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { insideNamespacesOf } from '../../runtime/sandbox/enter.js';
import { cli, harness, it } from './_harness.js';

const NS = ['mnt', 'uts', 'ipc', 'net'];
const here = () => Object.fromEntries(NS.map((ns) => [ns, readlinkSync(`/proc/thread-self/ns/${ns}`)]));

it('a run starts exactly one Node process: the CLI (no second Node boot inside the container)', async (t) => {
  const h = await harness(t);
  const strace = ['/usr/bin/strace', '/bin/strace'].find(existsSync)!;
  const log = join(h.root, 'execs.txt');
  t.teardown(() => rmSync(log, { force: true }));
  execFileSync(strace, ['-f', '-qq', '-e', 'trace=execve,execveat', '-e', 'signal=none', '-o', log,
    cli, 'run', '--rm', '--network', 'none', 'busybox', 'true'], { env: h.env(), stdio: 'ignore' });
  const execs = readFileSync(log, 'utf8').split('\n').filter((l) => / exec(ve|veat)\(/.test(l) && /= 0$/.test(l));
  t.log(execs.map((l) => l.slice(0, 120)).join('\n'));
  const nodes = execs.filter((l) => l.includes(`"${process.execPath}"`) || /\["node"/.test(l));
  t.is(nodes.length, 1, 'one Node: the CLI itself');
  t.true(execs.some((l) => l.includes('"skiff-exec"')), 'the container\'s first process execs skiff-exec directly');
  t.true(execs.some((l) => /execve\("[^"]*\/true"/.test(l)), 'and then the command');
}, { strace: 'strace' });

it('the main thread returns to its own namespaces and directory, also when a step throws', async (t) => {
  // A process with namespaces of its own to step into.
  const holder = spawn('unshare', ['--mount', '--uts', '--ipc', '--net', 'sleep', '60'], { stdio: 'ignore' });
  t.teardown(() => holder.kill('SIGKILL'));
  const pid = holder.pid!;
  for (let i = 0; i < 100 && readlinkSync(`/proc/${pid}/ns/uts`) === here().uts; i++) await new Promise((r) => setTimeout(r, 20));
  const before = here();
  const cwd = process.cwd();
  let inside: Record<string, string> = {};
  t.throws(() => insideNamespacesOf(pid, () => {
    inside = here();
    throw new Error('a failing mount step');
  }), { message: 'a failing mount step' });
  for (const ns of NS) t.is(inside[ns], readlinkSync(`/proc/${pid}/ns/${ns}`), `inside: the child's ${ns} namespace`);
  t.deepEqual(here(), before, 'back in its own namespaces');
  t.is(process.cwd(), cwd, 'back in its own directory');
  t.true(readFileSync('/proc/self/mountinfo', 'utf8').includes(' / / '), 'the host\'s mount table again');
  // And the same after a normal return.
  t.is(insideNamespacesOf(pid, () => 42), 42);
  t.deepEqual(here(), before);
});

// What makes the CLI-only commands load fast (tools/bundle.mjs, README
// "Performance"): a body per verb without the start path, Node builtins
// loaded on first use, output written with write(2), and no yargs on a line
// it need not see. `run` needs none of Node's crypto, streams or workers
// either. A heavy import creeping back shows up here first.
it('ps, images, inspect and run --rm load none of the builtins they do not use (crypto, stream, zlib, http...)', async (t) => {
  const h = await harness(t);
  const id = (await h.ok(t, ['create', '--network', 'none', 'busybox', 'true'])).trim();
  const preload = join(h.root, 'loaded.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(process.env.LOADED_OUT, process.moduleLoadList.join('\\n')));\n`);
  const heavy = ['crypto', 'child_process', 'zlib', 'dgram', 'http', 'https', 'readline', 'fs/promises', 'worker_threads', 'module'];
  const lines: Array<[string[], string[]]> = [
    [['ps', '-a'], [...heavy, 'stream', 'net', 'tty']],
    [['images'], [...heavy, 'stream', 'net', 'tty']],
    [['inspect', id], [...heavy, 'stream', 'net', 'tty']],
    [['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hi'], [...heavy, 'stream']],
  ];
  for (const [args, unused] of lines) {
    const out = join(h.root, `loaded-${args[0]}.txt`);
    const r = await h.run(args, { env: { NODE_OPTIONS: `--require ${preload}`, LOADED_OUT: out } });
    t.is(r.code, 0, r.stderr);
    const builtins = readFileSync(out, 'utf8').split('\n').filter((l) => l.startsWith('NativeModule ')).map((l) => l.slice('NativeModule '.length));
    t.deepEqual(unused.filter((m) => builtins.includes(m)), [], `skiff ${args[0]} loads only what it uses`);
  }
  t.is((await h.run(['rm', id])).code, 0);
});
