// `skiff system service` driven by the real docker CLI (Debian's docker.io
// client) and by plain HTTP. Each test starts its own service on a socket in
// its own root; containers use --network none, so no bridge is made.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { startRegistry } from '../../runtime/registry/server.js';
import { cli, fixtures, harness, it, runProcess, type Result } from './_harness.js';
import { client, DOCKER, DOCKER28, startService, type Service } from './_service.js';

const TOOLS = { [DOCKER]: 'docker.io' };


function get(sock: string, path: string, method = 'GET', body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path, method, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs up to 100 MB of garbage in 1 MB writes until the service answers; its status (-1: closed without one). */
function postGarbage(sock: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    let answered = false;
    const req = http.request({ socketPath: sock, path: '/v1.41/containers/create', method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', () => { if (!answered) resolve(-1); });
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    let sent = 0;
    const pump = () => {
      while (!answered && !req.destroyed && sent < 100) {
        sent++;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

/** The docker CLI against the service (stdin: `input`; another client: `bin`). */
function docker(t: ExecutionContext, svc: Service, args: string[], input = '', bin = DOCKER): Promise<Result> {
  return client(t, svc, args, { input, bin });
}

async function setup(t: ExecutionContext) {
  const h = await harness(t);
  const svc = await startService(t, h);
  const d = (...args: string[]) => docker(t, svc, args);
  return { h, svc, d };
}

it('docker run --rm through the service: output, stderr, stdin, exit codes, nothing left behind', async (t) => {
  const { h, svc, d } = await setup(t);
  const hi = await d('run', '--rm', '--network', 'none', 'busybox', 'echo', 'hi');
  t.is(hi.code, 0, hi.stderr);
  t.is(hi.stdout, 'hi\n');
  const bad = await d('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3');
  t.is(bad.code, 3, 'the container\'s exit code is the CLI\'s');
  t.is(bad.stdout, 'out\n');
  t.is(bad.stderr, 'err\n', 'stderr stays stderr (multiplexed frames)');
  const piped = await docker(t, svc, ['run', '-i', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat; echo end'], 'in\n');
  t.is(piped.stdout, 'in\nend\n', 'run -i: stdin reaches the command, and so does its EOF');
  const missing = await d('run', '--rm', '--network', 'none', 'busybox', 'no-such-command');
  t.is(missing.code, 127, missing.stderr);
  t.regex(missing.stderr, /executable file not found/);
  // --rm: removed by the container's own monitor, as with the CLI.
  for (let i = 0; i < 400 && h.containerIds().length; i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(h.containerIds(), []);
}, TOOLS);

it('docker run -d, logs, ps --filter, inspect -f, exec, cp, stop, rm', async (t) => {
  const { h, svc, d } = await setup(t);
  const run = await d('run', '-d', '--network', 'none', '--name', 'web', '--label', 'role=test', 'busybox', 'sh', '-c', 'echo started; echo warn >&2; exec sleep 300');
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  t.regex(id, /^[0-9a-f]{64}$/);
  let logs: Result = { code: 1, stdout: '', stderr: '' };
  for (let i = 0; i < 100; i++) {
    logs = await d('logs', 'web');
    if (logs.stdout && logs.stderr) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.is(logs.stdout, 'started\n');
  t.is(logs.stderr, 'warn\n');
  t.regex((await d('logs', '-t', '--tail', '1', 'web')).stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z warn\n$/);
  t.is((await d('logs', '--since', '2000-01-01T00:00:00Z', 'web')).stdout, 'started\n');
  t.is((await d('logs', '--until', '2000-01-01T00:00:00Z', 'web')).stdout, '', '--until a time before the container: nothing');
  // logs -f: what is there, then what comes, and it ends when the container does.
  t.is((await d('run', '-d', '--network', 'none', '--name', 'ticker', 'busybox', 'sh', '-c', 'echo one; sleep 1; echo two')).code, 0);
  const follow = await d('logs', '-f', 'ticker');
  t.is(follow.code, 0, follow.stderr);
  t.is(follow.stdout, 'one\ntwo\n');
  t.is((await d('rm', 'ticker')).code, 0);
  t.is((await d('ps', '--filter', 'label=role=test', '--format', '{{.Names}} {{.Image}}')).stdout, 'web busybox\n');
  t.is((await d('ps', '--filter', 'name=nothing-like-it', '-q')).stdout, '');
  t.is((await d('inspect', '-f', '{{.State.Status}} {{.Config.Image}} {{.HostConfig.NetworkMode}}', 'web')).stdout, 'running busybox none\n');
  const exec = await d('exec', 'web', 'sh', '-c', 'echo in-$HOSTNAME; exit 4');
  t.is(exec.code, 4);
  t.is(exec.stdout, `in-${id.slice(0, 12)}\n`);
  t.is((await docker(t, svc, ['exec', '-i', 'web', 'cat'], 'piped\n')).stdout, 'piped\n', 'exec -i: stdin reaches the process, and its EOF too');
  const cp = await d('cp', 'web:/etc/hostname', '-');
  t.is(cp.code, 0, cp.stderr);
  t.true(cp.stdout.includes(`${id.slice(0, 12)}\n`), 'cp out of the container: a tar of its /etc/hostname');
  t.regex((await d('cp', 'web:/no/such/file', '-')).stderr, /No such container:path/);
  t.regex((await docker(t, svc, ['cp', '-', 'web:/tmp'], 'x')).stderr, /invalid tar archive/, 'copying in a non-tar: a clear error');
  const stop = await d('stop', '-t', '1', 'web');
  t.is(stop.code, 0, stop.stderr);
  t.regex((await d('ps', '-a', '--format', '{{.Status}}')).stdout, /^Exited \(137\)/);
  t.is((await d('rm', 'web')).code, 0);
  t.deepEqual(h.containerIds(), []);
}, TOOLS);

it('docker images, and unknown names get docker\'s errors', async (t) => {
  const { d } = await setup(t);
  const images = await d('images', '--format', '{{.Repository}}:{{.Tag}}');
  t.is(images.stdout, 'busybox:latest\n');
  for (const args of [['inspect', 'nosuch'], ['rm', 'nosuch'], ['logs', 'nosuch'], ['stop', 'nosuch']]) {
    const r = await d(...args);
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, /No such (object|container): nosuch/, args.join(' '));
  }
}, TOOLS);

it('HTTP: version negotiation, Docker\'s JSON errors (404, 400, 501), a socket only root\'s group can open', async (t) => {
  const h = await harness(t);
  const svc = await startService(t, h);
  const st = statSync(svc.sock);
  t.is(st.mode & 0o777, 0o660);
  t.is(st.gid, 0);
  const ping = await get(svc.sock, '/_ping', 'HEAD');
  t.is(ping.status, 200);
  t.is(ping.headers['api-version'], '1.44');
  const v = JSON.parse((await get(svc.sock, '/v1.41/version')).text) as { ApiVersion: string; MinAPIVersion: string };
  t.deepEqual([v.ApiVersion, v.MinAPIVersion], ['1.44', '1.24']);
  const old = await get(svc.sock, '/v1.12/version');
  t.is(old.status, 400);
  t.regex(JSON.parse(old.text).message, /too old/);
  const none = await get(svc.sock, '/v1.41/containers/nosuch/json');
  t.is(none.status, 404);
  t.deepEqual(JSON.parse(none.text), { message: 'No such container: nosuch' });
  t.is((await get(svc.sock, '/v1.44/images/nosuch/json')).status, 404);
  const bad = await get(svc.sock, '/v1.41/containers/create', 'POST', '{"Image": ');
  t.is(bad.status, 400);
  t.truthy(JSON.parse(bad.text).message);
  t.is((await get(svc.sock, '/v1.41/containers/create', 'POST', '{"Image": "busybox", "Cmd": 3}')).status, 400);
  t.is((await get(svc.sock, '/v1.41/containers/create?name=bad%2Fname', 'POST', '{"Image": "busybox"}')).status, 400, 'a name create refuses');
  const unsupported = await get(svc.sock, '/v1.41/swarm');
  t.is(unsupported.status, 501);
  t.regex(JSON.parse(unsupported.text).message, /does not implement/);
});

it('daemonless: a container outlives the service, and a new service sees it', async (t) => {
  const { h, svc, d } = await setup(t);
  const run = await d('run', '-d', '--network', 'none', '--name', 'keeper', 'busybox', 'sleep', '300');
  t.is(run.code, 0, run.stderr);
  await svc.stop();
  const again = await startService(t, h);
  const ps = await docker(t, again, ['ps', '--format', '{{.Names}} {{.State}}']);
  t.is(ps.stdout, 'keeper running\n');
  t.is((await docker(t, again, ['rm', '-f', 'keeper'])).code, 0);
}, TOOLS);

it('the service records the exits of the containers it started (no Node finalizer boots); stopped meanwhile, the shim finalizes alone', async (t) => {
  const h = await harness(t);
  // SKIFF_TRACE: the service logs "exit-reported" and "finalized" when skiff-shim hands it an exit.
  const svc = await startService(t, h, { SKIFF_TRACE: '1' });
  const run = await docker(t, svc, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; exit 7']);
  t.is(run.code, 7, run.stderr);
  t.is(run.stdout, 'out\n');
  t.deepEqual(h.containerIds(), [], '--rm: removed before docker run returned');
  t.is(svc.log().match(/skiff-trace finalized/g)?.length, 1, svc.log());
  const shims = () => spawnSync('pgrep', ['-f', `skiff-shim .*${h.root}`], { encoding: 'utf8' }).stdout.trim();
  t.is(shims(), '', 'the shim exited once the service had finalized');
  // A run the service cannot finish: it stops (SIGTERM) while the container runs.
  t.is((await docker(t, svc, ['run', '-d', '--network', 'none', '--name', 'late', 'busybox', 'sh', '-c', 'sleep 1; exit 5'])).code, 0);
  await svc.stop();
  const again = await startService(t, h);
  t.is((await docker(t, again, ['wait', 'late'])).stdout, '5\n', 'the shim\'s own finalizer recorded the exit');
  t.is((await docker(t, again, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'late'])).stdout, 'exited 5\n');
  t.is((await docker(t, again, ['rm', 'late'])).code, 0);
}, TOOLS);

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in DIR. */
function makeCerts(dir: string): void {
  const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=skiff test CA');
  for (const [who, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']]) {
    writeFileSync(join(dir, `${who}.ext`), `${ext}\n`);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}-key.pem`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1', '-extfile', `${who}.ext`);
  }
}

it('TCP only with mutual TLS: a client with a certificate the CA signed runs containers; without one, or over plain TCP, nothing', async (t) => {
  const h = await harness(t);
  const dir = mkdtempSync('/tmp/skiff-test-tls-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  makeCerts(dir);
  const f = (n: string) => join(dir, n);
  const refused = await h.run(['system', 'service', '--host', 'tcp://127.0.0.1:2376']);
  t.is(refused.code, 125);
  t.regex(refused.stderr, /TCP needs --tlsverify with --tlscacert, --tlscert and --tlskey/);
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const host = `tcp://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [cli, 'system', 'service', '--host', host, '--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('server.pem'), '--tlskey', f('server-key.pem')],
    { env: h.env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  t.teardown(async () => {
    if (proc.exitCode === null) { proc.kill('SIGTERM'); await new Promise((r) => proc.once('exit', r)); }
  });
  for (let i = 0; !log.includes('listening'); i++) {
    if (i > 400 || proc.exitCode !== null) throw new Error(`the service did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  t.regex(log, /client certificates required/);
  const config = mkdtempSync('/tmp/skiff-test-docker-config-');
  t.teardown(() => rmSync(config, { recursive: true, force: true }));
  const dockerTcp = (args: string[]) => spawnSync(DOCKER, ['-H', host, ...args], { env: { ...process.env, DOCKER_CONFIG: config, DOCKER_HOST: '', DOCKER_CONTEXT: '' }, encoding: 'utf8', timeout: 60_000 });
  const withCert = ['--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('client.pem'), '--tlskey', f('client-key.pem')];
  const ok = dockerTcp([...withCert, 'run', '--rm', '--network', 'none', 'busybox', 'echo', 'over tls']);
  t.is(ok.status, 0, ok.stderr);
  t.is(ok.stdout, 'over tls\n', 'the hijacked attach works over TLS (the client half-closes it)');
  const stdin = spawnSync(DOCKER, ['-H', host, ...withCert, 'run', '-i', '--rm', '--network', 'none', 'busybox', 'cat'],
    { env: { ...process.env, DOCKER_CONFIG: config, DOCKER_HOST: '', DOCKER_CONTEXT: '' }, encoding: 'utf8', input: 'typed\n', timeout: 60_000 });
  t.is(stdin.stdout, 'typed\n', stdin.stderr);
  const noCert = dockerTcp(['--tlsverify', '--tlscacert', f('ca.pem'), 'ps']);
  t.not(noCert.status, 0, 'a client without a certificate is refused');
  t.regex(noCert.stderr, /certificate|tls|handshake/i);
  const plain = dockerTcp(['ps']);
  t.not(plain.status, 0, 'plain HTTP gets nothing');
  t.deepEqual(h.containerIds(), []);
}, { ...TOOLS, openssl: 'openssl' });


it('the docker 28 CLI negotiates API 1.44 and runs, execs, inspects, logs and removes', async (t) => {
  const { h, svc } = await setup(t);
  const d = (...args: string[]) => docker(t, svc, args, '', DOCKER28);
  t.regex((await d('version', '--format', '{{.Client.Version}} {{.Server.APIVersion}}')).stdout, /^28\.\S+ 1\.44\n$/);
  const run = await d('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo hello; exit 4');
  t.is(run.code, 4, run.stderr);
  t.is(run.stdout, 'hello\n');
  t.is((await d('run', '-d', '--network', 'none', '--name', 'n28', 'busybox', 'sh', '-c', 'echo up; sleep 300')).code, 0);
  t.is((await d('ps', '--format', '{{.Names}} {{.Status}}')).stdout.replace(/Up .*/, 'Up'), 'n28 Up\n');
  t.is((await d('inspect', '-f', '{{.State.Running}} {{.Config.Image}}', 'n28')).stdout, 'true busybox\n');
  t.is((await d('exec', 'n28', 'cat', '/etc/hostname')).stdout.trim().length, 12);
  t.is((await d('logs', 'n28')).stdout, 'up\n');
  t.is((await d('rm', '-f', 'n28')).code, 0);
  t.deepEqual(h.containerIds(), []);
}, { [DOCKER28]: 'docker-ce-cli' });

it('pause, restart, kill, top, tag, rmi, load, prune, info and network ls through the docker CLI', async (t) => {
  const { h, d } = await setup(t);
  t.is((await d('run', '-d', '--network', 'none', '--name', 'p1', 'busybox', 'sleep', '300')).code, 0);
  t.is((await d('pause', 'p1')).code, 0);
  t.is((await d('inspect', '-f', '{{.State.Paused}}', 'p1')).stdout, 'true\n');
  t.is((await d('unpause', 'p1')).code, 0);
  const top = await d('top', 'p1');
  t.regex(top.stdout, /^UID\s+PID\s+PPID/);
  t.regex(top.stdout, /sleep 300/);
  // stats: the client computes CPU % and memory from the daemon's two samples.
  const stats = await d('stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}', 'p1');
  t.regex(stats.stdout, /^p1\|0\.\d\d%\|\d+(\.\d+)?[KM]iB \/ \d+(\.\d+)?GiB\|1\n$/, stats.stderr);
  t.is((await d('rename', 'p1', 'renamed')).code, 0);
  t.is((await d('inspect', '-f', '{{.Name}}', 'renamed')).stdout, '/renamed\n');
  t.regex((await d('rename', 'renamed', 'renamed')).stderr, /same name as its current name/);
  t.is((await d('rename', 'renamed', 'p1')).code, 0);
  const started = (await d('inspect', '-f', '{{.State.StartedAt}}', 'p1')).stdout;
  t.is((await d('restart', '-t', '0', 'p1')).code, 0);
  t.not((await d('inspect', '-f', '{{.State.StartedAt}}', 'p1')).stdout, started, 'restart starts it again');
  t.is((await d('kill', 'p1')).code, 0);
  t.is((await d('wait', 'p1')).stdout, '137\n');
  t.is((await d('tag', 'busybox', 'mybox:v1')).code, 0);
  t.is((await d('images', '--format', '{{.Repository}}:{{.Tag}}', 'mybox')).stdout, 'mybox:v1\n');
  t.regex((await d('rmi', 'mybox:v1')).stdout, /Untagged: mybox:v1/);
  const load = await d('load', '-i', join(fixtures, 'busybox-oci.tar'));
  t.regex(load.stdout, /^Loaded image/, load.stderr);
  t.is((await d('container', 'prune', '-f')).code, 0);
  t.deepEqual(h.containerIds(), []);
  t.is((await d('info', '--format', '{{.Containers}} {{.Images}}')).stdout, '0 1\n');
  t.regex((await d('network', 'ls', '--format', '{{.Name}}')).stdout, /^bridge\nhost\nnone\n$/);
}, TOOLS);

it('docker volume create, ls, inspect, rm (refused while in use: 409) and prune; docker run -v NAME:/d and --mount type=volume', async (t) => {
  const { h, d } = await setup(t);
  t.is((await d('volume', 'create', '--label', 'k=v', 'shared')).stdout, 'shared\n');
  t.is((await d('volume', 'ls', '--format', '{{.Driver}} {{.Name}}')).stdout, 'local shared\n');
  t.is((await d('volume', 'ls', '-q', '--filter', 'label=k=v')).stdout, 'shared\n');
  t.is((await d('volume', 'inspect', '-f', '{{.Mountpoint}} {{.Labels.k}}', 'shared')).stdout, `${join(h.root, 'volumes', 'shared', '_data')} v\n`);
  const write = await d('run', '--rm', '--network', 'none', '-v', 'shared:/d', 'busybox', 'sh', '-c', 'echo through-api > /d/f');
  t.is(write.code, 0, write.stderr);
  t.is((await d('run', '--rm', '--network', 'none', '--mount', 'type=volume,source=shared,target=/m', 'busybox', 'cat', '/m/f')).stdout, 'through-api\n');
  t.is((await d('run', '--rm', '--network', 'none', '-v', 'fresh:/etc', 'busybox', 'head', '-c', '5', '/etc/passwd')).stdout, 'root:', 'copy-up');
  t.is((await d('create', '--network', 'none', '--name', 'holder', '-v', 'shared:/d', 'busybox', 'true')).code, 0);
  const id = (await d('inspect', '-f', '{{.Id}}', 'holder')).stdout.trim();
  t.is((await d('inspect', '-f', '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}', 'holder')).stdout, 'volume shared /d\n');
  const busy = await d('volume', 'rm', 'shared');
  t.is(busy.code, 1);
  t.is(busy.stderr, `Error response from daemon: remove shared: volume is in use - [${id}]\n`);
  t.regex((await d('volume', 'rm', 'nope')).stderr, /No such volume: nope/);
  t.is((await d('rm', '-v', 'holder')).code, 0);
  t.is((await d('volume', 'rm', 'shared')).stdout, 'shared\n');
  // Anonymous volumes: -v /path and a --mount without a source (read-only too); --rm takes them along.
  const anon = await d('run', '--rm', '--network', 'none', '-v', '/scratch', '--mount', 'type=volume,target=/ro,readonly', 'busybox', 'sh', '-c',
    'touch /scratch/x && echo rw; touch /ro/x 2>/dev/null || echo ro');
  t.is(anon.stdout, 'rw\nro\n', anon.stderr);
  t.is((await d('volume', 'ls', '-q')).stdout, 'fresh\n', '--rm removed both anonymous volumes');
  const pruned = await d('volume', 'prune', '-f');
  t.regex(pruned.stdout, /Deleted Volumes:\nfresh\n/, pruned.stderr);
  t.is((await d('volume', 'ls', '-q')).stdout, '');
}, TOOLS);

it('docker pull from a registry on loopback, with the JSON progress stream', async (t) => {
  const { h, d } = await setup(t);
  const regRoot = mkdtempSync('/tmp/skiff-test-registry-');
  const reg = await startRegistry({ addr: '127.0.0.1:0', root: regRoot });
  t.teardown(async () => {
    await reg.close();
    rmSync(regRoot, { recursive: true, force: true });
  });
  const name = `127.0.0.1:${reg.port}/tests/busybox:1`;
  await h.ok(t, ['tag', 'busybox', name]);
  await h.ok(t, ['push', name]);
  t.is((await d('rmi', name)).code, 0);
  const pull = await d('pull', name);
  t.is(pull.code, 0, pull.stderr);
  t.regex(pull.stdout, /Pulling from tests\/busybox/);
  t.regex(pull.stdout, /Status: Downloaded newer image|Image is up to date/);
  t.is((await d('images', '--format', '{{.Repository}}:{{.Tag}}', `127.0.0.1:${reg.port}/tests/busybox`)).stdout, `${name}\n`);
  const bad = await d('pull', `127.0.0.1:${reg.port}/tests/nothing:here`);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /not found|unknown/i);
}, TOOLS);

/** A loopback TCP relay to PORT that passes at most ~1.6 MB/s each way: a slow registry, so a pull can be cut mid-layer. */
async function slowRelay(t: ExecutionContext, port: number): Promise<number> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    open.add(client).add(upstream);
    const throttle = (from: net.Socket, to: net.Socket) => from.on('data', (d: Buffer) => {
      from.pause();
      to.write(d, () => setTimeout(() => from.resume(), Math.ceil(d.length / 1600)));
    });
    throttle(client, upstream);
    throttle(upstream, client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of open) s.destroy();
  }));
  return (server.address() as net.AddressInfo).port;
}

function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => /(^|\/)\.tmp-/.test(p) && !p.startsWith('containers/'));
}

it('faults: a client killed mid-pull leaves the store whole; the next pull and a run of the image work', async (t) => {
  const { h, svc, d } = await setup(t);
  const regRoot = mkdtempSync('/tmp/skiff-test-registry-');
  const reg = await startRegistry({ addr: '127.0.0.1:0', root: regRoot });
  t.teardown(async () => {
    await reg.close();
    rmSync(regRoot, { recursive: true, force: true });
  });
  // A 6 MB layer of random bytes (gzip cannot shrink it): about 4 s through the relay.
  const pushed = `127.0.0.1:${reg.port}/tests/big:1`;
  await h.ok(t, ['run', '--network', 'none', '--name', 'big', 'busybox', 'sh', '-c', 'head -c 6000000 /dev/urandom > /big']);
  await h.ok(t, ['commit', 'big', pushed]);
  await h.ok(t, ['push', pushed]);
  await h.ok(t, ['rm', 'big']);
  await h.ok(t, ['rmi', pushed]);
  const name = `127.0.0.1:${await slowRelay(t, reg.port)}/tests/big:1`;

  const config = mkdtempSync('/tmp/skiff-test-docker-config-');
  t.teardown(() => rmSync(config, { recursive: true, force: true }));
  const client = spawn(DOCKER, ['-H', `unix://${svc.sock}`, 'pull', name], { env: { ...process.env, DOCKER_CONFIG: config }, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  t.true(tempFiles(h.root).length > 0, 'the layer was being written when the client went');
  client.kill('SIGKILL');
  await new Promise((r) => client.once('exit', r));
  t.is((await get(svc.sock, '/_ping')).text, 'OK', 'the service still answers');

  const again = await d('pull', name);
  t.is(again.code, 0, again.stderr);
  t.is((await d('run', '--rm', '--network', 'none', name, 'wc', '-c', '/big')).stdout.trim(), '6000000 /big');
  // The orphaned pull finishes or fails on its own; either way it leaves no half-written file.
  for (let i = 0; i < 300 && tempFiles(h.root).length; i++) await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(tempFiles(h.root), []);
  t.is((await d('images', '-q', name)).stdout.trim().split('\n').length, 1);
}, TOOLS);

it('concurrent clients: 50 docker run --rm at once all succeed; a 100 MB garbage body is refused', async (t) => {
  const { h, svc, d } = await setup(t);
  const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => d('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `echo n${i}; exit ${i}`)));
  runs.forEach((r, i) => {
    t.is(r.stdout, `n${i}\n`, r.stderr);
    t.is(r.code, i);
  });
  for (let i = 0; i < 400 && h.containerIds().length; i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(h.containerIds(), []);
  // Declared too large: refused before it is read. Chunked, with no length: cut off at the limit.
  t.is(await postGarbage(svc.sock, { 'Content-Length': String(100 * 1024 * 1024) }), 413);
  t.is(await postGarbage(svc.sock, { 'Transfer-Encoding': 'chunked' }), 413);
  t.is((await get(svc.sock, '/_ping')).text, 'OK', 'the service still answers');
}, TOOLS);

const DOCKER_PY = '/usr/lib/python3/dist-packages/docker/__init__.py';

it('docker-py: create, start, stream logs, wait, remove, and run(remove=True)', async (t) => {
  const { h, svc } = await setup(t);
  const script = `
import docker, json, sys
c = docker.DockerClient(base_url='unix://' + sys.argv[1])
ct = c.containers.create('busybox', ['sh', '-c', 'for i in 1 2 3; do echo l$i; done; exit 5'], network_mode='none')
ct.start()
lines = [l.decode() for l in ct.logs(stream=True, follow=True)]
code = ct.wait()['StatusCode']
ct.reload()
status = ct.status
ct.remove()
out = c.containers.run('busybox', ['echo', 'ran'], network_mode='none', remove=True).decode()
print(json.dumps({'lines': ''.join(lines), 'code': code, 'status': status, 'out': out, 'left': len(c.containers.list(all=True))}))
`;
  const r = await runProcess('/usr/bin/python3', ['-c', script, svc.sock], { timeoutMs: 60_000 });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { lines: 'l1\nl2\nl3\n', code: 5, status: 'exited', out: 'ran\n', left: 0 });
  t.deepEqual(h.containerIds(), []);
}, { '/usr/bin/python3': 'python3', [DOCKER_PY]: 'python3-docker' });

it('faults: a client killed mid-attach and a service killed with -9 leave the container running and whole', async (t) => {
  const { h, svc } = await setup(t);
  const config = mkdtempSync('/tmp/skiff-test-docker-config-');
  t.teardown(() => rmSync(config, { recursive: true, force: true }));
  const client = spawn(DOCKER, ['-H', `unix://${svc.sock}`, 'run', '--network', 'none', '--name', 'lone', 'busybox', 'sh', '-c', 'echo begin; sleep 1; echo done'], {
    env: { ...process.env, DOCKER_CONFIG: config }, stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve) => client.stdout!.on('data', (b: Buffer) => { if (b.includes('begin')) resolve(); }));
  client.kill('SIGKILL');
  svc.proc.kill('SIGKILL');
  await new Promise((r) => svc.proc.once('exit', r));
  const again = await startService(t, h);
  const wait = await docker(t, again, ['wait', 'lone']);
  t.is(wait.stdout, '0\n', 'it ran to its end');
  t.is((await docker(t, again, ['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout, 'busybox:latest\n', 'no image lost');
  t.is((await docker(t, again, ['logs', 'lone'])).stdout, 'begin\ndone\n');
  t.is((await docker(t, again, ['rm', 'lone'])).code, 0);
  t.deepEqual(h.containerIds(), []);
}, TOOLS);

it('docker events: create, start, die and destroy of a container, filtered by name', async (t) => {
  const { svc, d } = await setup(t);
  const config = mkdtempSync('/tmp/skiff-test-docker-config-');
  t.teardown(() => rmSync(config, { recursive: true, force: true }));
  const events = spawn(DOCKER, ['-H', `unix://${svc.sock}`, 'events', '--filter', 'container=ev', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], {
    env: { ...process.env, DOCKER_CONFIG: config }, stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => events.kill('SIGKILL'));
  let seen = '';
  events.stdout!.on('data', (b) => (seen += b));
  await new Promise((r) => setTimeout(r, 500));
  t.is((await d('run', '-d', '--network', 'none', '--name', 'ev', 'busybox', 'sleep', '100')).code, 0);
  t.is((await d('run', '--rm', '--network', 'none', '--name', 'other', 'busybox', 'true')).code, 0);
  await new Promise((r) => setTimeout(r, 600));
  t.is((await d('rm', '-f', 'ev')).code, 0);
  for (let i = 0; i < 40 && !seen.includes('destroy'); i++) await new Promise((r) => setTimeout(r, 100));
  t.is(seen, 'create ev\nstart ev\ndie ev\ndestroy ev\n');
}, TOOLS);
