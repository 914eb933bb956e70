// docker-compose 1.29 (Debian's docker-compose, docker-py underneath) driving
// `skiff system service`: a project network, a published port, a named
// volume, service names resolved across the project's network; ps, logs,
// exec and down -v; and the docker CLI's `network` verbs through the same
// service. Each test has its own root, socket, pool and bridge prefix.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { it, type Result } from './_harness.js';
import { fetchText, freePort, portBusy } from './_net-util.js';
import { netHarness, userNetLeftovers } from './_user-net.js';
import { client, DOCKER, ping, startService, type Service } from './_service.js';

const COMPOSE = '/usr/bin/docker-compose';
/** A shell line fetching http://HOST/ with nc (busybox wget would resolve through glibc NSS). */
const get = (host: string) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} 80 | tail -1`;

function post(sock: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** docker or docker-compose against the service. */
function run(t: ExecutionContext, svc: Service, cmd: string, args: string[], cwd?: string): Promise<Result> {
  return client(t, svc, args, { bin: cmd, cwd, env: { COMPOSE_INTERACTIVE_NO_CLI: '1' } });
}

it('docker-compose up -d: a web service with a published port and a named volume, a client reaching it by service name; ps, logs, exec -T, down -v leaves nothing', async (t) => {
  const h = await netHarness(t);
  const svc = await startService(t, h);
  const port = await freePort();
  const project = `sktc${randomBytes(3).toString('hex')}`;
  const dir = join(h.root, 'project');
  mkdirSync(dir);
  writeFileSync(join(dir, 'docker-compose.yml'), [
    'version: "3.8"',
    'services:',
    '  web:',
    '    image: busybox',
    `    command: sh -c 'mkdir -p /www && echo hello-compose > /www/index.html && exec httpd -f -p 80 -h /www'`,
    '    ports:',
    `      - "127.0.0.1:${port}:80"`,
    '    volumes:',
    '      - data:/data',
    '  client:',
    '    image: busybox',
    // The client asks the web service by its compose name, over the project's network, and keeps what it saw in the volume.
    `    command: sh -c 'while true; do printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 web 80 | tail -1 | tee /data/seen; sleep 0.5; done'`,
    '    volumes:',
    '      - data:/data',
    '    depends_on:',
    '      - web',
    'volumes:',
    '  data:',
    '',
  ].join('\n'));
  const compose = (...args: string[]) => run(t, svc, COMPOSE, ['-p', project, ...args], dir);

  const up = await compose('up', '-d');
  t.is(up.code, 0, up.stderr);
  t.regex(up.stderr, new RegExp(`Creating network "${project}_default" with the default driver`));

  // ps: both services up, the port as compose shows it.
  const ps = await compose('ps');
  t.is(ps.code, 0, ps.stderr);
  t.regex(ps.stdout, new RegExp(`${project}_web_1 .* Up +127\\.0\\.0\\.1:${port}->80/tcp`));
  t.regex(ps.stdout, new RegExp(`${project}_client_1 .* Up`));

  // The published port answers on 127.0.0.1.
  t.is(await fetchText('127.0.0.1', port), 'hello-compose\n');

  // The client reached web by service name: its log, and the file in the shared volume (read through exec -T in web).
  let seen = '';
  for (let i = 0; i < 60 && seen !== 'hello-compose'; i++) {
    const r = await compose('exec', '-T', 'web', 'cat', '/data/seen');
    seen = r.stdout.trim();
    if (seen !== 'hello-compose') await new Promise((r2) => setTimeout(r2, 250));
  }
  t.is(seen, 'hello-compose');
  const logs = await compose('logs', '--no-color', 'client');
  t.is(logs.code, 0, logs.stderr);
  t.regex(logs.stdout, /client_1 +\| hello-compose/);
  const exec = await compose('exec', '-T', 'client', 'sh', '-c', 'grep -w web /etc/hosts | cut -f2');
  t.is(exec.code, 0, exec.stderr);
  // Container name, then the aliases compose gave (the service name, the short id; compose's order varies).
  const names = exec.stdout.trim().split(' ');
  t.is(names[0], `${project}_web_1`, exec.stdout);
  t.true(names.includes('web') && names.some((n) => /^[0-9a-f]{12}$/.test(n)), exec.stdout);

  // skiff's own view of what compose made: the labelled network, the volume.
  t.is((await h.ok(t, ['network', 'ls', '-f', `label=com.docker.compose.project=${project}`, '--format', '{{.Name}}'])).trim(), `${project}_default`);
  t.is((await h.ok(t, ['volume', 'ls', '-q'])).trim(), `${project}_data`);

  const down = await compose('down', '-v', '-t', '1');
  t.is(down.code, 0, down.stderr);
  t.regex(down.stderr, new RegExp(`Removing network ${project}_default`));
  t.regex(down.stderr, new RegExp(`Removing volume ${project}_data`));

  // Nothing left: containers, network (bridge, table, state), volume, the port.
  t.is((await h.ok(t, ['ps', '-a', '-q'])).trim(), '');
  t.is((await h.ok(t, ['network', 'ls', '-q', '-f', 'type=custom'])).trim(), '');
  t.is((await h.ok(t, ['volume', 'ls', '-q'])).trim(), '');
  t.deepEqual(userNetLeftovers(h.prefix), []);
  t.false(await portBusy('tcp', '127.0.0.1', port), 'the published port is free again');
  // Every call compose made is one the service implements.
  t.notRegex(svc.log(), /does not implement/);
}, { 'docker-compose': 'docker-compose' });

it('docker network create/ls/inspect/connect/disconnect/rm through the service, with Docker\'s errors and statuses', async (t) => {
  const h = await netHarness(t);
  const svc = await startService(t, h);
  const d = (...args: string[]) => run(t, svc, DOCKER, args);
  const created = await d('network', 'create', '--label', 'k=v', 'apinet');
  t.is(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  t.regex(id, /^[0-9a-f]{64}$/);
  t.regex((await d('network', 'ls', '--filter', 'label=k=v')).stdout, new RegExp(`${id.slice(0, 12)} +apinet +bridge +local`));
  t.is((await d('network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels.k}}', 'apinet')).stdout, 'apinet bridge v\n');
  const dup = await d('network', 'create', 'apinet');
  t.regex(dup.stderr, /Error response from daemon: network with name apinet already exists/);

  t.is((await d('run', '-d', '--name', 'srv', '--network', 'apinet', '--network-alias', 'api', 'busybox', 'sleep', '300')).code, 0);
  t.is((await d('run', '-d', '--name', 'side', '--network', 'none', 'busybox', 'sleep', '300')).code, 0);
  const rm = await d('network', 'rm', 'apinet');
  t.is(rm.code, 1);
  t.regex(rm.stderr, new RegExp(`Error response from daemon: error while removing network: network apinet id ${id} has active endpoints`));
  const none = await d('network', 'connect', 'apinet', 'side');
  t.regex(none.stderr, /cannot be connected to any other network/);
  t.is((await d('network', 'disconnect', 'apinet', 'srv')).code, 0);
  t.is((await d('inspect', '-f', '{{len .NetworkSettings.Networks}}', 'srv')).stdout, '0\n');
  t.is((await d('network', 'connect', '--alias', 'again', 'apinet', 'srv')).code, 0);
  t.regex((await d('inspect', '-f', '{{json .NetworkSettings.Networks.apinet.Aliases}}', 'srv')).stdout, /"again"/);
  // A second container on the network finds the first by name and by alias, and reaches it.
  const reach = await d('run', '--rm', '--network', 'apinet', 'busybox', 'sh', '-c', 'ping -c1 -W3 srv >/dev/null && ping -c1 -W3 again >/dev/null && echo reached');
  t.is(reach.stdout, 'reached\n', reach.stderr);
  const apart = await d('run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ping -c1 -W1 srv 2>&1; echo rc=$?');
  t.regex(apart.stdout, /bad address 'srv'[\s\S]*rc=1/, 'off the network the name means nothing');
  const unknown = await d('network', 'rm', 'nosuch');
  // The CLI looks the network up first: a 404 there is its "No such network".
  t.regex(unknown.stderr, /Error: No such network: nosuch/);
  // Create on an unknown network: Docker's 404 (the docker CLI would take any 404 there for a missing image and pull).
  const bad = await post(svc.sock, '/v1.41/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'nosuch' } });
  t.deepEqual(bad, { status: 404, body: { message: 'network nosuch not found' } });
  const conflict = await post(svc.sock, `/v1.41/networks/${id}/connect`, { Container: 'nosuch' });
  t.is(conflict.status, 404);

  t.is((await d('rm', '-f', 'srv', 'side')).code, 0);
  t.is((await d('network', 'rm', 'apinet')).stdout, 'apinet\n');
  const pruned = await d('network', 'prune', '-f');
  t.is(pruned.code, 0, pruned.stderr);
  t.deepEqual(userNetLeftovers(h.prefix), []);
  t.notRegex(svc.log(), /does not implement/);
}, { '/usr/bin/docker': 'docker.io' });

it('docker-compose with two networks (one --internal) and a network alias: the service on both reaches each side, the others stay apart', async (t) => {
  const h = await netHarness(t);
  const svc = await startService(t, h);
  const project = `sktc${randomBytes(3).toString('hex')}`;
  const dir = join(h.root, 'project');
  mkdirSync(dir);
  writeFileSync(join(dir, 'docker-compose.yml'), [
    'version: "3.8"',
    'services:',
    '  db:',
    '    image: busybox',
    `    command: sh -c 'mkdir -p /www && echo from-db > /www/index.html && exec httpd -f -p 80 -h /www'`,
    '    networks: [back]',
    '  app:',
    '    image: busybox',
    '    command: sleep 300',
    '    networks:',
    '      back:',
    '      front:',
    '        aliases: [api]',
    '  edge:',
    '    image: busybox',
    '    command: sleep 300',
    '    networks: [front]',
    'networks:',
    '  front: {}',
    '  back:',
    '    internal: true',
    '',
  ].join('\n'));
  const compose = (...args: string[]) => run(t, svc, COMPOSE, ['-p', project, ...args], dir);
  const up = await compose('up', '-d');
  t.is(up.code, 0, up.stderr);

  // app is on both networks: eth0 and eth1, and reaches db by service name.
  const app = await compose('exec', '-T', 'app', 'sh', '-c', `ip -o -4 addr | grep -c eth; ${get('db')}`);
  t.is(app.stdout, '2\nfrom-db\n', app.stderr);
  // edge knows app by its front alias, and nothing of db (on the other network).
  const edge = await compose('exec', '-T', 'edge', 'sh', '-c', 'grep -cw api /etc/hosts; nc -w 1 db 80 </dev/null; echo db=$?');
  // (compose's exec -T hands the command's stderr over on stdout)
  t.is(edge.stdout.replace(/^nc: bad address 'db'\n/m, ''), '1\ndb=1\n');
  t.regex(edge.stdout + edge.stderr, /bad address 'db'/);
  t.is(await h.ok(t, ['network', 'inspect', '-f', '{{.Internal}}', `${project}_back`]), 'true\n');

  const down = await compose('down', '-t', '1');
  t.is(down.code, 0, down.stderr);
  t.is((await h.ok(t, ['ps', '-a', '-q'])).trim(), '');
  t.is((await h.ok(t, ['network', 'ls', '-q', '-f', 'type=custom'])).trim(), '');
  t.deepEqual(userNetLeftovers(h.prefix), []);
  t.notRegex(svc.log(), /does not implement/);
}, { 'docker-compose': 'docker-compose' });

it('docker-py create_container(networking_config={net: aliases}) without network_mode: on that network only, with its alias; concurrent connects, disconnects and rm -f on one network never wedge the service', async (t) => {
  const h = await netHarness(t);
  const svc = await startService(t, h);
  const d = (...args: string[]) => run(t, svc, DOCKER, args);
  t.is((await d('network', 'create', 'pynet')).code, 0);
  const py = await run(t, svc, 'python3', ['-c', [
    'import docker',
    'c = docker.from_env()',
    "nc = c.api.create_networking_config({'pynet': c.api.create_endpoint_config(aliases=['pyalias'])})",
    "ctr = c.api.create_container('busybox', ['sleep', '300'], name='pyc', networking_config=nc)",
    "c.api.start(ctr['Id'])",
    "print(ctr['Id'])",
  ].join('\n')]);
  t.is(py.code, 0, py.stderr);
  // Docker: the EndpointsConfig networks replace the default bridge; the alias is the network's.
  t.is((await d('inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'pyc')).stdout, 'pynet \n');
  t.regex((await d('inspect', '-f', '{{json .NetworkSettings.Networks.pynet.Aliases}}', 'pyc')).stdout, /"pyalias"/);
  const reach = await d('run', '--rm', '--network', 'pynet', 'busybox', 'sh', '-c', 'ping -c1 -W3 pyalias >/dev/null && echo reached');
  t.is(reach.stdout, 'reached\n', reach.stderr);

  // The service takes bridge locks for connect (the running containers get an interface now), disconnect and
  // rm at once; none may hold its lock across an await, or the others block its event loop for good.
  const names = ['m1', 'm2', 'm3', 'm4'];
  t.is((await d('network', 'create', 'pynet2')).code, 0);
  for (const n of [...names, 'gone']) t.is((await d('run', '-d', '--name', n, '--network', 'pynet', 'busybox', 'sleep', '300')).code, 0);
  const all = await Promise.all([
    ...names.map((n) => d('network', 'connect', 'pynet2', n)),
    d('network', 'disconnect', 'pynet', 'm1'),
    d('rm', '-f', 'gone'),
    d('rm', '-f', 'pyc'),
  ]);
  for (const r of all) t.is(r.code, 0, r.stderr);
  t.is(await ping(svc.sock), 200, 'the service still answers');
  const on2 = await d('network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', 'pynet2');
  t.deepEqual(on2.stdout.trim().split(' ').sort(), names);
  const ok = await d('exec', 'm2', 'sh', '-c', 'ping -c1 -W3 m3 >/dev/null && echo reached');
  t.is(ok.stdout, 'reached\n', ok.stderr);

  t.is((await d('rm', '-f', ...names)).code, 0);
  t.is((await d('network', 'rm', 'pynet', 'pynet2')).code, 0);
  t.deepEqual(userNetLeftovers(h.prefix), []);
  t.notRegex(svc.log(), /does not implement|already held by this process/);
}, { '/usr/bin/docker': 'docker.io' });
