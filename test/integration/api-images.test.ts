// The image side of `skiff system service`, driven by the real docker CLI
// (Debian's docker.io 20.10 client, and docker 28 where it adds a second
// opinion) and by plain HTTP: build (the classic builder), push to and pull
// from a registry on loopback, save | load, history, search, cp into
// containers (hostile tars included), system df, image events. Each test
// starts its own service on a socket in its own root; containers use
// --network none.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import bcrypt from 'bcryptjs';
import * as tar from 'tar-stream';
import { startRegistry } from '../../runtime/registry/server.js';
import { harness, it, mountsUnder, runProcess, type Harness, type Result } from './_harness.js';
import { client, DOCKER, DOCKER28, startService, type ClientOptions, type Service } from './_service.js';
import { REGISTRY, startRegistry as startDistribution } from './_registry.js';

const TOOLS = { [DOCKER]: 'docker.io' };

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer; text: string }

function request(sock: string, path: string, method = 'GET', body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path, method, headers: body ? { 'Content-Type': 'application/x-tar' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The docker CLI (or a shell pipeline of them) against the service, with the classic builder. */
function docker(t: ExecutionContext, svc: Service, args: string[], opts: Omit<ClientOptions, 'env'> = {}): Promise<Result> {
  return client(t, svc, args, { ...opts, env: { DOCKER_BUILDKIT: '0' } });
}

async function setup(t: ExecutionContext, env: NodeJS.ProcessEnv = {}) {
  const h = await harness(t);
  const svc = await startService(t, h, env);
  const d = (...args: string[]) => docker(t, svc, args);
  return { h, svc, d };
}

function tempDir(t: ExecutionContext, prefix: string): string {
  const dir = mkdtempSync(`/tmp/${prefix}`);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A tar made of raw entries (names and links exactly as given, however hostile). */
async function makeTar(entries: Array<{ name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; body?: string; uid?: number }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644, uid: e.uid ?? 0, gid: e.uid ?? 0 } as const;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type && e.type !== 'file') pack.entry(header, cb);
      else pack.entry(header, e.body ?? '', cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Files the service's temp dir still holds (build contexts, copy mounts): none once a request is over. */
function leftovers(h: Harness): string[] {
  const tmp = join(h.root, 'tmp');
  return existsSync(tmp) ? readdirSync(tmp).filter((n) => /^(build|cp)-/.test(n)) : [];
}

it('docker build (classic): steps, .dockerignore, cache, run the result, history; a failing step and bad contexts fail cleanly', async (t) => {
  const { h, svc, d } = await setup(t, { SKIFF_BUILD_CONTEXT_MAX: String(1024 * 1024) });
  const ctx = tempDir(t, 'skiff-test-ctx-');
  writeFileSync(join(ctx, 'Dockerfile'), [
    'FROM busybox',
    'RUN echo built-by-run > /built && echo output of the run step',
    'COPY msg.txt /msg.txt',
    'CMD ["sh", "-c", "cat /built /msg.txt; test -e /secret.txt && echo LEAKED || echo no-secret"]',
    '',
  ].join('\n'));
  writeFileSync(join(ctx, 'msg.txt'), 'hello from the context\n');
  writeFileSync(join(ctx, 'secret.txt'), 'not for the image\n');
  writeFileSync(join(ctx, '.dockerignore'), 'secret.txt\n');

  const b = await d('build', '-t', 'skt-built', ctx);
  t.is(b.code, 0, b.stderr);
  t.regex(b.stdout, /Step 1\/4 : FROM busybox\n ---> [0-9a-f]{12}\n/);
  t.regex(b.stdout, /Step 2\/4 : RUN echo built-by-run.*\n ---> Running in [0-9a-f]{12}\noutput of the run step\n/, 'the RUN step\'s output is in the stream');
  t.regex(b.stdout, /Step 3\/4 : COPY msg.txt \/msg.txt\n/);
  t.regex(b.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged skt-built:latest\n/);
  const run = await d('run', '--rm', '--network', 'none', 'skt-built');
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, 'built-by-run\nhello from the context\nno-secret\n', 'RUN and COPY made it in; .dockerignore kept the secret out');

  const history = await d('history', '--format', '{{.CreatedBy}}|{{.Size}}', 'skt-built');
  t.is(history.code, 0, history.stderr);
  const lines = history.stdout.trim().split('\n');
  t.is(lines.length, 4, history.stdout);
  t.regex(lines[0], /CMD \["sh", "-c"/);
  t.regex(lines[1], /COPY msg.txt/);
  t.regex(lines[2], /echo built-by-run/);

  // The same build again: every step from the cache, the same image; -q prints only its ID.
  const id = (await d('inspect', '-f', '{{.Id}}', 'skt-built')).stdout.trim();
  const again = await d('build', '-q', '-t', 'skt-built', ctx);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout.trim(), id);

  // A Dockerfile outside the context: the 20.10 CLI adds it to the tar (and ends that tar without its end blocks).
  const elsewhere = join(tempDir(t, 'skiff-test-df-'), 'Dockerfile.outside');
  writeFileSync(elsewhere, 'FROM busybox\nCOPY msg.txt /m\nCMD ["cat", "/m"]\n');
  const outside = await d('build', '-f', elsewhere, '-t', 'skt-outside', ctx);
  t.is(outside.code, 0, outside.stderr);
  t.is((await d('run', '--rm', '--network', 'none', 'skt-outside')).stdout, 'hello from the context\n');

  // docker 28's classic client: --label and --build-arg reach the builder.
  writeFileSync(join(ctx, 'Dockerfile.args'), 'FROM busybox\nARG GREETING=default\nRUN echo "$GREETING" > /greeting\nCMD ["cat", "/greeting"]\n');
  const b28 = await docker(t, svc, ['build', '-f', join(ctx, 'Dockerfile.args'), '--build-arg', 'GREETING=from-arg', '--label', 'purpose=skt', '-t', 'skt-args', ctx], { bin: DOCKER28 });
  t.is(b28.code, 0, b28.stderr);
  t.is((await d('run', '--rm', '--network', 'none', 'skt-args')).stdout, 'from-arg\n');
  t.is((await d('inspect', '-f', '{{.Config.Labels.purpose}}', 'skt-args')).stdout, 'skt\n');

  // A failing RUN: the CLI exits 1 with the builder's message; the step's container is gone.
  const bad = tempDir(t, 'skiff-test-ctx-');
  writeFileSync(join(bad, 'Dockerfile'), 'FROM busybox\nRUN echo about to fail; exit 3\n');
  const failed = await d('build', '-t', 'skt-bad', bad);
  t.is(failed.code, 1, failed.stdout);
  t.regex(failed.stdout, /about to fail\n/);
  t.regex(failed.stderr, /The command '\/bin\/sh -c echo about to fail; exit 3' returned a non-zero code: 3/);
  t.is((await d('images', '-q', 'skt-bad')).stdout, '');
  const noFile = await d('build', '-f', 'Nope.dockerfile', bad);
  t.not(noFile.code, 0);

  // A context over the service's limit (1 MiB here), and a body that is no tar: refused, nothing left.
  const big = tempDir(t, 'skiff-test-ctx-');
  writeFileSync(join(big, 'Dockerfile'), 'FROM busybox\nCOPY blob /blob\n');
  writeFileSync(join(big, 'blob'), Buffer.alloc(3 * 1024 * 1024, 7));
  const tooBig = await d('build', '-t', 'skt-big', big);
  t.is(tooBig.code, 1);
  t.regex(tooBig.stderr, /build context is larger than 1048576 bytes/);
  const garbage = await request(svc.sock, '/v1.41/build?t=skt-garbage', 'POST', 'this is not a tar archive, not even close to one');
  t.is(garbage.status, 400, garbage.text);
  t.regex(JSON.parse(garbage.text).message, /^unable to read the build context/);
  t.is((await request(svc.sock, '/v1.41/build?buildargs=%7Bnope', 'POST', await makeTar([]))).status, 400, 'malformed buildargs: 400');
  // Hostile contexts: a `..` entry is refused outright; a symlink out of the context cannot be copied from.
  const dots = await request(svc.sock, '/v1.41/build', 'POST', await makeTar([{ name: 'Dockerfile', body: 'FROM busybox\n' }, { name: '../../escaped', body: 'x' }]));
  t.is(dots.status, 400, dots.text);
  const viaLink = await request(svc.sock, '/v1.41/build?t=skt-link', 'POST', await makeTar([
    { name: 'Dockerfile', body: 'FROM busybox\nCOPY out/hostname /stolen\n' }, { name: 'out', type: 'symlink', linkname: '/etc' },
  ]));
  t.is(viaLink.status, 200);
  t.regex(viaLink.text, /"errorDetail":\{"message":"Dockerfile:2: COPY failed: forbidden path outside the build context/);

  // A client that goes away mid-RUN (Ctrl-C) cancels the build: the step's container goes too.
  const slow = await makeTar([{ name: 'Dockerfile', body: 'FROM busybox\nRUN echo sleeping; sleep 300\n' }]);
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ socketPath: svc.sock, path: '/v1.41/build?t=skt-slow', method: 'POST', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      res.on('data', (b: Buffer) => {
        if (b.toString().includes('sleeping')) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', () => {});
    setTimeout(() => reject(new Error('the RUN step never started')), 30_000);
    req.end(slow);
  });
  // A client that goes away mid-upload: the half-read context is removed.
  await new Promise<void>((resolve) => {
    const req = http.request({ socketPath: svc.sock, path: '/v1.41/build', method: 'POST', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(10 * 1024 * 1024) } });
    req.on('error', () => resolve());
    req.write(slow.subarray(0, 1024), () => setTimeout(() => { req.destroy(); resolve(); }, 300));
  });
  for (let i = 0; i < 200 && (h.containerIds().length || leftovers(h).length); i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(h.containerIds(), [], 'the cancelled RUN\'s container is gone');
  t.is((await d('images', '-q', 'skt-slow')).stdout, '');

  t.deepEqual(leftovers(h), [], 'no build context left in the temp dir');
  t.deepEqual(h.containerIds(), [], 'no RUN container left');
  t.deepEqual(mountsUnder(h.root), []);
  t.is((await request(svc.sock, '/_ping')).text, 'OK');
}, { ...TOOLS, [DOCKER28]: 'docker 28 client' });

it('docker push to a loopback registry and pull back, search it, save | load, and the image events of all that', async (t) => {
  const { svc, d } = await setup(t);
  const regRoot = tempDir(t, 'skiff-test-registry-');
  const reg = await startRegistry({ addr: '127.0.0.1:0', root: regRoot });
  t.teardown(() => reg.close());
  const config = tempDir(t, 'skiff-test-docker-config-');
  const events = spawn(DOCKER, ['-H', `unix://${svc.sock}`, 'events', '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], {
    env: { ...process.env, DOCKER_CONFIG: config }, stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => events.kill('SIGKILL'));
  let seen = '';
  events.stdout!.on('data', (b) => (seen += b));
  await new Promise((r) => setTimeout(r, 500));

  const name = `127.0.0.1:${reg.port}/tests/bb:v1`;
  t.is((await d('tag', 'busybox', name)).code, 0);
  const push = await d('push', name);
  t.is(push.code, 0, push.stderr);
  t.regex(push.stdout, new RegExp(`The push refers to repository \\[127\\.0\\.0\\.1:${reg.port}/tests/bb\\]`));
  t.regex(push.stdout, /[0-9a-f]{12}: Pushed/);
  t.regex(push.stdout, /v1: digest: sha256:[0-9a-f]{64} size: \d+/);
  const pushAgain = await d('push', name);
  t.regex(pushAgain.stdout, /Layer already exists/);
  t.is((await d('rmi', name)).code, 0);
  const pull = await d('pull', name);
  t.is(pull.code, 0, pull.stderr);
  t.regex(pull.stdout, /Pulling from tests\/bb/);
  // Under another name: what came back from the registry runs.
  t.is((await d('tag', name, 'skt-from-registry:1')).code, 0);
  t.is((await d('run', '--rm', '--network', 'none', 'skt-from-registry:1', 'echo', 'came back')).stdout, 'came back\n');
  const missing = await d('push', `127.0.0.1:${reg.port}/tests/nothing:here`);
  t.not(missing.code, 0);
  t.regex(missing.stderr, /does not exist locally/);

  const search = await d('search', `127.0.0.1:${reg.port}/tests`);
  t.is(search.code, 0, search.stderr);
  t.regex(search.stdout, new RegExp(`127\\.0\\.0\\.1:${reg.port}/tests/bb\\s+1 tag: v1`));

  // save | load through a pipe, and save -o of two images (GET /images/get?names=...).
  const saved = join(tempDir(t, 'skiff-test-save-'), 'two.tar');
  t.is((await d('save', '-o', saved, 'busybox', 'skt-from-registry:1')).code, 0);
  const names = await new Promise<string[]>((resolve, reject) => {
    const list: string[] = [];
    const x = tar.extract();
    x.on('entry', (hd, s, next) => { list.push(hd.name); s.resume(); next(); });
    x.on('finish', () => resolve(list));
    x.on('error', reject);
    import('node:fs').then((fs) => fs.createReadStream(saved).pipe(x));
  });
  t.true(names.includes('manifest.json') && names.some((n) => n.endsWith('/layer.tar')), names.join(' '));
  t.is((await d('rmi', 'skt-from-registry:1')).code, 0);
  const roundTrip = await docker(t, svc, [`${DOCKER} save busybox | ${DOCKER} load`], { shell: true });
  t.is(roundTrip.code, 0, roundTrip.stderr);
  t.is(roundTrip.stdout, 'Loaded image: busybox:latest\n');
  const load = await d('load', '-i', saved);
  t.is(load.stdout, 'Loaded image: busybox:latest\nLoaded image: skt-from-registry:1\n');
  t.is((await d('images', '--format', '{{.Repository}}:{{.Tag}}', 'skt-from-registry')).stdout, 'skt-from-registry:1\n');

  const ctx = tempDir(t, 'skiff-test-ctx-');
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nLABEL built=for-events\n');
  t.is((await d('build', '-t', 'skt-evt', ctx)).code, 0);
  for (let i = 0; i < 40 && !/skt-evt/.test(seen.split('\n').slice(-3).join('')); i++) await new Promise((r) => setTimeout(r, 100));
  const want = [`tag ${name}`, `push ${name}`, 'untag sha256:', `pull ${name}`, 'tag skt-from-registry:1', 'save sha256:', 'load sha256:', 'tag skt-evt:latest'];
  for (const w of want) t.true(seen.includes(w), `event "${w}" in:\n${seen}`);
  t.true(seen.indexOf(`push ${name}`) < seen.indexOf(`pull ${name}`), 'in order');
}, TOOLS);

it('docker push and pull against Debian\'s docker-registry (Distribution 2.8) through the service', async (t) => {
  const { d } = await setup(t);
  const reg = await startDistribution(t);
  const name = `${reg.host}/tests/bb:dist`;
  t.is((await d('tag', 'busybox', name)).code, 0);
  const push = await d('push', name);
  t.is(push.code, 0, push.stderr);
  t.regex(push.stdout, /dist: digest: sha256:[0-9a-f]{64} size: \d+/);
  t.regex(reg.log(), /PUT \/v2\/tests\/bb\/manifests\/dist/, 'the registry took the manifest');
  t.is((await d('rmi', name)).code, 0);
  const pull = await d('pull', name);
  t.is(pull.code, 0, pull.stderr);
  t.regex(pull.stdout, /Status: Downloaded newer image for /);
  t.is((await d('run', '--rm', '--network', 'none', name, 'echo', 'from distribution')).stdout, 'from distribution\n');
}, { ...TOOLS, ...REGISTRY });

it('docker cp into running and stopped containers; hostile tars stay inside the container', async (t) => {
  const { h, svc, d } = await setup(t);
  const src = tempDir(t, 'skiff-test-cpsrc-');
  writeFileSync(join(src, 'file'), 'copied in\n');
  mkdirSync(join(src, 'tree', 'sub'), { recursive: true });
  writeFileSync(join(src, 'tree', 'sub', 'leaf'), 'leaf\n');

  t.is((await d('run', '-d', '--network', 'none', '--name', 'live', '-v', 'skt-cpvol:/data', 'busybox', 'sleep', '300')).code, 0);
  const cp = await d('cp', join(src, 'file'), 'live:/tmp/copied');
  t.is(cp.code, 0, cp.stderr);
  t.is((await d('exec', 'live', 'cat', '/tmp/copied')).stdout, 'copied in\n');
  t.is((await d('cp', join(src, 'tree'), 'live:/etc/')).code, 0, 'a directory into an existing one');
  t.is((await d('exec', 'live', 'cat', '/etc/tree/sub/leaf')).stdout, 'leaf\n');
  // Into a volume the container has: the file is in the volume, not hidden under it in the rootfs.
  t.is((await d('cp', join(src, 'file'), 'live:/data/')).code, 0);
  t.is((await d('exec', 'live', 'cat', '/data/file')).stdout, 'copied in\n');
  t.is((await d('run', '--rm', '--network', 'none', '-v', 'skt-cpvol:/v', 'busybox', 'cat', '/v/file')).stdout, 'copied in\n');
  const cp28 = await docker(t, svc, ['cp', join(src, 'file'), 'live:/root/'], { bin: DOCKER28 });
  t.is(cp28.code, 0, cp28.stderr);
  t.is((await d('exec', 'live', 'cat', '/root/file')).stdout, 'copied in\n');
  const clash = await d('cp', join(src, 'tree'), 'live:/tmp/copied');
  t.not(clash.code, 0, 'a directory over a file is refused');
  t.regex(clash.stderr, /cannot copy directory/);
  t.is((await d('exec', 'live', 'cat', '/tmp/copied')).stdout, 'copied in\n', 'the file is still there');
  // Over the raw API (no client-side check): noOverwriteDirNonDir refuses a directory over that file.
  const dirOverFile = await request(svc.sock, '/v1.41/containers/live/archive?path=/tmp&noOverwriteDirNonDir=true', 'PUT', await makeTar([{ name: 'copied/', type: 'directory' }]));
  t.is(dirOverFile.status, 400);
  t.regex(JSON.parse(dirOverFile.text).message, /cannot overwrite non-directory/);
  t.not((await d('cp', join(src, 'file'), 'live:/no/such/dir/file')).code, 0);

  // A stopped (never started) container: the copy is there when it runs.
  t.is((await d('create', '--network', 'none', '--name', 'cold', 'busybox', 'cat', '/tmp/file', '/home/tree/sub/leaf')).code, 0);
  t.is((await d('cp', join(src, 'file'), 'cold:/tmp/')).code, 0);
  t.is((await d('cp', join(src, 'tree'), 'cold:/home/tree')).code, 0);
  const started = await d('start', '-a', 'cold');
  t.is(started.stdout, 'copied in\nleaf\n', started.stderr);
  const stat = await request(svc.sock, '/v1.41/containers/cold/archive?path=/home/tree', 'HEAD');
  t.is(stat.status, 200);
  t.like(JSON.parse(Buffer.from(String(stat.headers['x-docker-container-path-stat']), 'base64').toString()), { name: 'tree' });

  // Hostile tars over raw HTTP: a symlink out of the root, `..` names, a hardlink out.
  const outside = tempDir(t, 'skiff-test-outside-');
  const put = async (ctr: string, path: string, body: Buffer) => request(svc.sock, `/v1.41/containers/${ctr}/archive?path=${encodeURIComponent(path)}`, 'PUT', body);
  const viaLink = await makeTar([
    { name: 'abs', type: 'symlink', linkname: outside },
    { name: 'abs/pwned', body: 'through an absolute symlink\n' },
  ]);
  const viaDots = await makeTar([
    { name: 'rel', type: 'symlink', linkname: `../../../../../../../../..${outside}` },
    { name: 'rel/pwned2', body: 'through a ../ symlink\n' },
  ]);
  const r1 = await put('live', '/tmp', viaLink);
  t.is(r1.status, 400, r1.text);
  t.is((await put('live', '/tmp', await makeTar([{ name: `../../../../../..${outside}/pwned3`, body: 'dots' }]))).status, 400);
  t.is((await put('live', '/tmp', await makeTar([{ name: 'hl', type: 'link', linkname: '../../../../../../etc/passwd' }]))).status, 400);
  // With the link's target present in the container, the same tars write there, inside it.
  t.is((await d('exec', 'live', 'mkdir', '-p', outside)).code, 0);
  t.is((await put('cold', '/', await makeTar([{ name: `${outside.slice(1)}/`, type: 'directory' }]))).status, 200);
  for (const [ctr, body] of [['live', viaLink], ['live', viaDots], ['cold', viaDots]] as const) {
    const r = await put(ctr, '/var', body);
    t.is(r.status, 200, `${ctr}: ${r.text}`);
  }
  t.is((await d('exec', 'live', 'cat', `${outside}/pwned`, `${outside}/pwned2`)).stdout, 'through an absolute symlink\nthrough a ../ symlink\n');
  const fromCold = await d('cp', `cold:${outside}/pwned2`, '-');
  t.is(fromCold.code, 0, fromCold.stderr);
  t.true(fromCold.stdout.includes('through a ../ symlink\n'), 'copied out of the stopped container again');
  t.deepEqual(readdirSync(outside), [], 'nothing was written on the host');
  t.is((await put('live', '/tmp', Buffer.from('not a tar'))).status, 400);
  t.is((await put('nosuch', '/tmp', viaLink)).status, 404);
  t.is((await put('live', '/no/such/dir', viaLink)).status, 404);

  t.is((await d('rm', '-f', 'live', 'cold')).code, 0);
  t.is((await d('volume', 'rm', 'skt-cpvol')).code, 0);
  t.deepEqual(leftovers(h), []);
  t.deepEqual(mountsUnder(h.root), []);
}, { ...TOOLS, [DOCKER28]: 'docker 28 client' });

it('docker cp: a directory replaces a file or symlink; read-only mounts, --read-only and unmappable userns ids refuse; a start waits for a copy into the stopped container', async (t) => {
  const { h, svc, d } = await setup(t);
  const put = (ctr: string, path: string, body: Buffer) => request(svc.sock, `/v1.41/containers/${ctr}/archive?path=${encodeURIComponent(path)}`, 'PUT', body);
  const src = tempDir(t, 'skiff-test-cpsrc-');
  writeFileSync(join(src, 'file'), 'copied in\n');
  const hostConfig = tempDir(t, 'skiff-test-cpro-');
  writeFileSync(join(hostConfig, 'keep'), 'host\n');

  // Without noOverwriteDirNonDir (docker-py's put_archive): a directory entry replaces a file and a symlink, as in Docker.
  t.is((await d('run', '-d', '--network', 'none', '--name', 'live', '-v', `${hostConfig}:/config:ro`, 'busybox', 'sleep', '300')).code, 0);
  t.is((await d('exec', 'live', 'sh', '-c', 'echo f > /tmp/f && ln -s /etc /tmp/l')).code, 0);
  const dirs = await put('live', '/tmp', await makeTar([{ name: 'f/', type: 'directory' }, { name: 'f/in', body: 'inside\n' }, { name: 'l/', type: 'directory' }]));
  t.is(dirs.status, 200, dirs.text);
  t.is((await d('exec', 'live', 'sh', '-c', 'cat /tmp/f/in; test -d /tmp/l && ! test -L /tmp/l && echo a directory')).stdout, 'inside\na directory\n');
  // A file over that directory, now not empty: refused with 400 (Docker would remove the tree; skiff removes only an empty one).
  const overTree = await put('live', '/tmp', await makeTar([{ name: 'f', body: 'file over a tree\n' }]));
  t.is(overTree.status, 400, overTree.text);
  t.regex(JSON.parse(overTree.text).message, /directory that is not empty/);
  t.is((await d('exec', 'live', 'cat', '/tmp/f/in')).stdout, 'inside\n');

  // A :ro bind mount: refused, and nothing reaches the host directory behind it.
  const ro = await d('cp', join(src, 'file'), 'live:/config/');
  t.not(ro.code, 0);
  t.regex(ro.stderr, /mounted volume is marked read-only/);
  const roRaw = await put('live', '/config', await makeTar([{ name: 'pwned', body: 'x' }]));
  t.is(roRaw.status, 400);
  t.is(JSON.parse(roRaw.text).message, 'mounted volume is marked read-only');
  t.deepEqual(readdirSync(hostConfig), ['keep']);

  // --read-only: the rootfs refuses (a tmpfs on it too, as Docker's), a read-write volume on it takes the copy.
  t.is((await d('run', '-d', '--network', 'none', '--read-only', '--tmpfs', '/run', '-v', 'skt-cprw:/data', '--name', 'frozen', 'busybox', 'sleep', '300')).code, 0);
  for (const where of ['frozen:/tmp/', 'frozen:/run/']) {
    const r = await d('cp', join(src, 'file'), where);
    t.not(r.code, 0, where);
    t.regex(r.stderr, /container rootfs is marked read-only/, where);
  }
  t.is((await put('frozen', '/tmp', await makeTar([{ name: 'x', body: 'x' }]))).status, 400);
  t.is((await d('exec', 'frozen', 'find', '/tmp', '/run', '-mindepth', '1')).stdout, '');
  t.is((await d('cp', join(src, 'file'), 'frozen:/data/')).code, 0);
  t.is((await d('exec', 'frozen', 'cat', '/data/file')).stdout, 'copied in\n');

  // --userns-remap (65536 ids): ids in the map land shifted, one past it is refused, never written as that host id.
  t.is((await h.run(['run', '-d', '--network', 'none', '--userns-remap', '--name', 'mapped', 'busybox', 'sleep', '300'])).code, 0);
  t.is((await put('mapped', '/tmp', await makeTar([{ name: 'mine', body: 'm\n', uid: 1000 }]))).status, 200);
  t.is((await d('exec', 'mapped', 'stat', '-c', '%u:%g', '/tmp/mine')).stdout, '1000:1000\n');
  const unmapped = await put('mapped', '/tmp', await makeTar([{ name: 'theirs', body: 't\n', uid: 65536 }]));
  t.is(unmapped.status, 400);
  t.is(JSON.parse(unmapped.text).message, 'Container ID 65536 cannot be mapped to a host ID');
  t.not((await d('exec', 'mapped', 'test', '-e', '/tmp/theirs')).code, 0);

  // A copy into a stopped container mounts its upper dir: a start waits for the copy to end (as Docker's
  // container lock makes it), then sees the file.
  t.is((await d('create', '--network', 'none', '--name', 'cold', 'busybox', 'cat', '/slow')).code, 0);
  const slow = await makeTar([{ name: 'slow', body: 'slow copy\n' }]);
  let copied!: Promise<Reply>;
  const firstHalf = new Promise<void>((sent) => {
    copied = new Promise((resolve, reject) => {
      const req = http.request({ socketPath: svc.sock, path: '/v1.41/containers/cold/archive?path=/', method: 'PUT', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), text: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.write(slow.subarray(0, 512), () => sent());
      setTimeout(() => req.end(slow.subarray(512)), 2500);
    });
  });
  copied.catch(() => {}); // awaited below; a failed assertion before then must not crash the worker
  await firstHalf;
  await new Promise((r) => setTimeout(r, 300));
  const starting = d('start', '-a', 'cold');
  await new Promise((r) => setTimeout(r, 1000));
  t.is(JSON.parse((await request(svc.sock, '/v1.41/containers/cold/json')).text).State.Status, 'created', 'the start waits for the copy');
  t.is((await copied).status, 200);
  const started = await starting;
  t.is(started.stdout, 'slow copy\n', started.stderr);
  // And a copy while a start holds the container's mount lock (held here by flock(1), as a start would): 409, nothing mounted.
  const id = JSON.parse((await request(svc.sock, '/v1.41/containers/cold/json')).text).Id as string;
  const holder = spawn('flock', ['-o', join(h.root, 'locks', `rootfs-${id}.lock`), 'sh', '-c', 'echo held; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => { holder.stdin!.end(); });
  await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
  const busy = await put('cold', '/', slow);
  t.is(busy.status, 409, busy.text);
  t.regex(JSON.parse(busy.text).message, /^Conflict: container cold is starting/);
  const busyOut = await request(svc.sock, '/v1.41/containers/cold/archive?path=/slow');
  t.is(busyOut.status, 409, 'copying out of the stopped container waits its turn too');
  const freed = new Promise<void>((r) => holder.once('exit', () => r()));
  holder.stdin!.end();
  await freed;
  t.is((await put('cold', '/', slow)).status, 200);

  t.is((await d('rm', '-f', 'live', 'frozen', 'mapped', 'cold')).code, 0);
  t.is((await d('volume', 'rm', 'skt-cprw')).code, 0);
  t.deepEqual(leftovers(h), []);
  t.deepEqual(mountsUnder(h.root), []);
}, TOOLS);

it('docker system df: images, containers, volumes and the build cache; builder prune empties the cache', async (t) => {
  const { h, svc, d } = await setup(t);
  t.is((await d('volume', 'create', 'skt-data')).code, 0);
  const run = await d('run', '-d', '--network', 'none', '--name', 'user', '-v', 'skt-data:/data', 'busybox', 'sh', '-c',
    'head -c 200000 /dev/zero > /big; head -c 50000 /dev/zero > /data/half; exec sleep 300');
  t.is(run.code, 0, run.stderr);
  const ctx = tempDir(t, 'skiff-test-ctx-');
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo cached > /c\nCMD ["cat", "/c"]\n');
  t.is((await d('build', '-t', 'skt-cached', ctx)).code, 0);
  await new Promise((r) => setTimeout(r, 300));

  const df = JSON.parse((await request(svc.sock, '/v1.41/system/df')).text) as {
    LayersSize: number; Images: Array<{ RepoTags: string[]; Containers: number; Size: number }>;
    Containers: Array<{ Names: string[]; SizeRw: number }>; Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>;
    BuildCache: Array<{ Size: number }>;
  };
  t.true(df.LayersSize > 1_000_000);
  t.deepEqual(df.Images.map((i) => i.RepoTags[0]).sort(), ['busybox:latest', 'skt-cached:latest']);
  t.is(df.Images.find((i) => i.RepoTags[0] === 'busybox:latest')!.Containers, 1);
  t.is(df.Containers[0].Names[0], '/user');
  t.true(df.Containers[0].SizeRw >= 200_000 && df.Containers[0].SizeRw < 300_000, String(df.Containers[0].SizeRw));
  t.deepEqual(df.Volumes.map((v) => [v.Name, v.UsageData.Size, v.UsageData.RefCount]), [['skt-data', 50_000, 1]]);

  const table = await d('system', 'df', '--format', '{{.Type}}|{{.TotalCount}}|{{.Active}}');
  t.is(table.code, 0, table.stderr);
  const rows = table.stdout.trim().split('\n');
  t.is(rows[0], 'Images|2|1');
  t.is(rows[1], 'Containers|1|1');
  t.is(rows[2], 'Local Volumes|1|1');
  t.regex(rows[3], /^Build Cache\|[1-9]\d*\|0$/, 'the RUN step\'s intermediate image');
  const verbose = await d('system', 'df', '-v');
  t.regex(verbose.stdout, /skt-data\s+1\s+50kB/);
  // skiff's own `system df`: the same library, the same numbers.
  const own = await h.ok(t, ['system', 'df']);
  t.regex(own, /^Images\s+2\s+1\s/m);
  t.regex(own, /^Containers\s+1\s+1\s+2\d\dkB\s+0B/m);
  t.regex(own, /^Local Volumes\s+1\s+1\s+50kB\s+0B/m);

  const prune = await d('builder', 'prune', '-f');
  t.is(prune.code, 0, prune.stderr);
  t.regex(prune.stdout, /Total reclaimed space/);
  t.regex((await d('system', 'df', '--format', '{{.Type}}|{{.TotalCount}}')).stdout, /Build Cache\|0/);
  t.is((await d('run', '--rm', '--network', 'none', 'skt-cached', 'cat', '/c')).stdout, 'cached\n', 'the tagged image is whole');
}, TOOLS);

it('docker login and push to a registry that wants credentials: POST /auth checks them, X-Registry-Auth carries them', async (t) => {
  const { svc } = await setup(t);
  const regRoot = tempDir(t, 'skiff-test-registry-');
  const htpasswd = join(regRoot, 'htpasswd');
  writeFileSync(htpasswd, `skt:${bcrypt.hashSync('s3cret', 4)}\n`);
  const reg = await startRegistry({ addr: '127.0.0.1:0', root: join(regRoot, 'data'), htpasswd });
  t.teardown(() => reg.close());
  const config = tempDir(t, 'skiff-test-docker-config-');
  const d = (args: string[], input = '') => docker(t, svc, args, { config, input });
  const server = `127.0.0.1:${reg.port}`;
  const name = `${server}/private/bb:1`;
  t.is((await d(['tag', 'busybox', name])).code, 0);
  const denied = await d(['push', name]);
  t.not(denied.code, 0);
  t.regex(denied.stderr, /unauthorized|authentication required|no basic auth/i);
  const wrong = await d(['login', server, '-u', 'skt', '--password-stdin'], 'wrong\n');
  t.not(wrong.code, 0);
  t.false(existsSync(join(config, 'config.json')) && /auths.*127/.test(String(wrong.stdout)), 'nothing stored');
  const login = await d(['login', server, '-u', 'skt', '--password-stdin'], 's3cret\n');
  t.is(login.code, 0, login.stderr);
  t.regex(login.stdout, /Login Succeeded/);
  const push = await d(['push', name]);
  t.is(push.code, 0, push.stderr);
  t.regex(push.stdout, /1: digest: sha256:/);
  t.is((await d(['rmi', name])).code, 0);
  const pull = await d(['pull', name]);
  t.is(pull.code, 0, pull.stderr);
}, TOOLS);

const DOCKER_PY = '/usr/lib/python3/dist-packages/docker/__init__.py';

it('docker-py: images.build (the aux ID), history, save, and a build error as BuildError', async (t) => {
  const { svc } = await setup(t);
  const ctx = tempDir(t, 'skiff-test-ctx-');
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo py > /py\nCMD ["cat", "/py"]\n');
  const bad = tempDir(t, 'skiff-test-ctx-');
  writeFileSync(join(bad, 'Dockerfile'), 'FROM busybox\nRUN exit 7\n');
  const script = `
import docker, json, sys
c = docker.DockerClient(base_url='unix://' + sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag='skt-py', rm=True)
out = ''.join(l.get('stream', '') for l in logs)
tar = b''.join(img.save(named=True))
try:
    c.images.build(path=sys.argv[3])
    err = None
except docker.errors.BuildError as e:
    err = e.msg
ran = c.containers.run('skt-py', network_mode='none', remove=True).decode()
print(json.dumps({'id': img.id, 'tags': img.tags, 'steps': out.count('Step '), 'history': len(img.history()), 'ustar': tar[257:262].decode(), 'err': err, 'ran': ran}))
`;
  const r = await runProcess('/usr/bin/python3', ['-c', script, svc.sock, ctx, bad], { timeoutMs: 120_000 });
  t.is(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { id: string; tags: string[]; steps: number; history: number; ustar: string; err: string; ran: string };
  t.regex(got.id, /^sha256:[0-9a-f]{64}$/);
  t.deepEqual(got.tags, ['skt-py:latest']);
  t.is(got.steps, 3);
  t.is(got.history, 3);
  t.is(got.ustar, 'ustar');
  t.regex(got.err, /returned a non-zero code: 7/);
  t.is(got.ran, 'py\n');
}, { '/usr/bin/python3': 'python3', [DOCKER_PY]: 'python3-docker' });
