// skiff's registry client (pull, push, login, search) against Debian's real
// registry (docker-registry, Distribution 2.8) and against small scripted
// servers that misbehave on purpose. All traffic stays on 127.0.0.1.
//
// The library is called directly; the CLI verbs are driven through
// _registry-cli.js (the same command modules main.ts loads).
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { loadArchive } from '../../runtime/image/load.js';
import { ImageStore } from '../../runtime/image/store.js';
import { authFile, getCredentials, login, logout } from '../../runtime/registry/auth.js';
import { formatRegistryErrors, parseChallenge, RegistryClient, searchRegistry } from '../../runtime/registry/client.js';
import type { ProgressEvent } from '../../runtime/registry/progress.js';
import { ensureImage, pullImage } from '../../runtime/registry/pull.js';
import { pushImage } from '../../runtime/registry/push.js';
import { localName, resolveReference } from '../../runtime/registry/reference.js';
import {
  blobCount, buildImage, distRoot, ensureFixtures, fixtureLayers, fsck, layeredTar, seed, sha256, startRegistry, startTestRegistry,
  tempLeftovers, tempRoot, writeScript, REGISTRY, SKOPEO, HTPASSWD,
} from './_registry.js';
import { type Tools, withTools } from './_tools.js';
import { runProcess, type Result } from './_harness.js';

// Every test sets process.env.SKIFF_ROOT (the store's locks follow it), so they run one at a time.
// Each test names the programs it runs besides skiff: a missing one skips only that test (or fails it under CI).
const notRoot = process.getuid?.() !== 0 ? 'needs root' : undefined;
function it(title: string, fn: (t: ExecutionContext) => Promise<void>, tools: Tools = {}): void {
  withTools(test.serial, tools, title, fn, notRoot);
}

const LAYERED_CONFIG = 'sha256:7c39c70d13e5596bc18b4ba7e944d0c769f28969367e7b0aa5cb6e321161a425';

function recorder(): { events: ProgressEvent[]; onProgress: (e: ProgressEvent) => void; messages: () => string[]; statuses: (s: string) => string[] } {
  const events: ProgressEvent[] = [];
  return {
    events,
    onProgress: (e) => events.push(e),
    messages: () => events.filter((e): e is Extract<ProgressEvent, { kind: 'message' }> => e.kind === 'message').map((e) => e.text),
    statuses: (s) => [...new Set(events.filter((e) => e.kind === 'layer' && e.status === s).map((e) => (e as { id: string }).id))],
  };
}

async function loadLayered(store: ImageStore): Promise<string> {
  const [img] = await loadArchive(store, createReadStream(layeredTar));
  return img.id;
}

test.before(() => {
  if (!notRoot) ensureFixtures();
});

// ---- references and small parsers (no server) -----------------------------------------------

test.serial('references resolve with Docker defaults; SKIFF_REGISTRY moves short names', (t) => {
  const saved = process.env.SKIFF_REGISTRY;
  t.teardown(() => {
    if (saved === undefined) delete process.env.SKIFF_REGISTRY;
    else process.env.SKIFF_REGISTRY = saved;
  });
  delete process.env.SKIFF_REGISTRY;
  const b = resolveReference('busybox');
  t.like(b, { registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/busybox', tag: 'latest', defaultedTag: true });
  t.is(localName(b), 'busybox:latest');
  t.is(localName(resolveReference('docker.io/library/busybox:1.36')), 'busybox:1.36');
  t.is(localName(resolveReference('ouruser/sinatra')), 'ouruser/sinatra:latest');
  t.like(resolveReference('ouruser/sinatra'), { repository: 'ouruser/sinatra' });
  const local = resolveReference('127.0.0.1:5000/test/busybox:1');
  t.like(local, { registry: '127.0.0.1:5000', repository: 'test/busybox', tag: '1' });
  t.is(localName(local), '127.0.0.1:5000/test/busybox:1');
  const d = `sha256:${'a'.repeat(64)}`;
  t.like(resolveReference(`busybox@${d}`), { digest: d, tag: undefined });
  t.throws(() => resolveReference('Busybox'), { message: /lowercase/ });

  process.env.SKIFF_REGISTRY = '127.0.0.1:5000';
  const s = resolveReference('busybox');
  t.like(s, { registry: '127.0.0.1:5000', repository: 'busybox' });
  t.is(localName(s), 'busybox:latest');
  t.is(localName(resolveReference('docker.io/library/busybox')), 'docker.io/library/busybox:latest');
});

test.serial('registry errors become one line naming the code; challenges parse', (t) => {
  t.is(formatRegistryErrors('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}')?.message,
    'manifest unknown: manifest tagged by "nope" is not found');
  t.is(formatRegistryErrors('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}')?.message, 'unauthorized: authentication required');
  t.is(formatRegistryErrors('<html>'), undefined);
  t.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' },
  });
  t.deepEqual(parseChallenge('Basic realm="basic-realm"'), { scheme: 'basic', params: { realm: 'basic-realm' } });
});

// ---- against docker-registry ----------------------------------------------------------------------

it('pull of a multi-layer image from docker-registry leaves it run-ready', async (t) => {
  const reg = await startRegistry(t);
  seed(reg, 'test/layered:1');
  const store = new ImageStore(tempRoot(t));
  const name = `${reg.host}/test/layered:1`;
  const rec = recorder();
  const id = await pullImage(store, name, { onProgress: rec.onProgress });
  t.is(id, LAYERED_CONFIG);

  const img = store.lookup(name);
  t.truthy(img, 'store.lookup finds the image by the name it was pulled as');
  t.deepEqual(img!.repoTags, [name]);
  t.is(img!.repoDigests.length, 1);
  t.regex(img!.repoDigests[0], new RegExp(`^${reg.host}/test/layered@sha256:[0-9a-f]{64}$`));
  for (const diffId of img!.config.rootfs.diff_ids) t.true(store.hasLayer(diffId), `layer ${diffId} unpacked`);
  t.true(existsSync(join(store.layerPath(img!.config.rootfs.diff_ids[0]), 'bin', 'busybox')));
  t.deepEqual(fsck(store), []);

  const { manifest } = store.manifest(id);
  t.is(manifest.layers.length, 2);
  t.is(rec.statuses('Pull complete').length, 2);
  t.true(rec.messages().includes('1: Pulling from test/layered'));
  t.true(rec.messages().some((m) => /^Digest: sha256:[0-9a-f]{64}$/.test(m)));
  t.true(rec.messages().includes(`Status: Downloaded newer image for ${name}`));

  // Again: nothing to download.
  const again = recorder();
  t.is(await pullImage(store, name, { onProgress: again.onProgress }), id);
  t.is(again.statuses('Already exists').length, 2);
  t.is(again.statuses('Downloading').length, 0);
  t.true(again.messages().includes(`Status: Image is up to date for ${name}`));

  // By digest: recorded as repo@digest.
  const digest = img!.repoDigests[0].split('@')[1];
  t.is(await pullImage(store, `${reg.host}/test/layered@${digest}`), id);

  // Unknown tag: the registry's error as one line.
  await t.throwsAsync(pullImage(store, `${reg.host}/test/layered:nope`), { message: 'manifest unknown: manifest tagged by "nope" is not found' });
  // ensureImage: found locally, nothing pulled.
  t.is((await ensureImage(store, name)).id, id);
}, { ...REGISTRY, ...SKOPEO });

it('push of a loaded multi-layer image, then pull into a fresh root; mounts and skips on later pushes', async (t) => {
  const reg = await startRegistry(t);
  const rootA = tempRoot(t);
  const a = new ImageStore(rootA);
  const id = await loadLayered(a);
  const target = `${reg.host}/test/pushed:v1`;
  a.tag(id, [target]);
  const rec = recorder();
  const res = await pushImage(a, target, { onProgress: rec.onProgress });
  const local = a.manifest(id);
  t.is(res.digest, local.digest, 'the registry keeps the stored manifest bytes');
  t.is(res.size, local.bytes.length);
  t.is(rec.statuses('Pushed').length, 2);
  t.true(rec.messages().includes(`The push refers to repository [${reg.host}/test/pushed]`));
  t.true(rec.messages().includes(`v1: digest: ${local.digest} size: ${local.bytes.length}`));
  t.true(a.get(id).repoDigests.includes(`${reg.host}/test/pushed@${local.digest}`));

  // Same image again: every layer is already there.
  const again = recorder();
  await pushImage(a, target, { onProgress: again.onProgress });
  t.is(again.statuses('Layer already exists').length, 2);

  // To another repository of the same registry: mounted, not uploaded.
  a.tag(id, [`${reg.host}/test/other:v1`]);
  const mount = recorder();
  await pushImage(a, `${reg.host}/test/other:v1`, { onProgress: mount.onProgress });
  t.true(mount.events.some((e) => e.kind === 'layer' && e.status === 'Mounted from test/pushed'));
  t.notRegex(reg.log(), /PATCH \/v2\/test\/other\//);

  // A fresh root pulls exactly the same image.
  const b = new ImageStore(tempRoot(t));
  t.is(await pullImage(b, target), id);
  t.is(b.manifest(id).digest, local.digest);
  t.deepEqual(fsck(b), []);
  t.true(existsSync(join(b.layerPath(b.get(id).config.rootfs.diff_ids[0]), 'bin', 'busybox')));

  // Pushing a name that is not in the store says so, as Docker does.
  await t.throwsAsync(pushImage(a, `${reg.host}/test/none:v1`), { message: `An image does not exist locally with the tag: ${reg.host}/test/none:v1` });
}, REGISTRY);

it('basic auth through htpasswd: login, push, pull; a wrong password is a clear error', async (t) => {
  const creds = { username: 'alice', password: 's3cret-pw' };
  const reg = await startRegistry(t, { htpasswd: creds });
  seed(reg, 'test/layered:1');
  const root = tempRoot(t);
  const store = new ImageStore(root);

  await t.throwsAsync(pullImage(store, `${reg.host}/test/layered:1`), { message: /^unauthorized: authentication required/ });
  await t.throwsAsync(login(reg.host, { username: 'alice', password: 'wrong' }, { root }), { message: `unauthorized: incorrect username or password for ${reg.host}` });
  t.false(existsSync(authFile(root)), 'a refused login stores nothing');

  await login(reg.host, creds, { root });
  t.is(statSync(authFile(root)).mode & 0o777, 0o600);
  const file = JSON.parse(readFileSync(authFile(root), 'utf8')) as { auths: Record<string, { auth: string }> };
  t.is(Buffer.from(file.auths[reg.host].auth, 'base64').toString(), 'alice:s3cret-pw');
  t.deepEqual(getCredentials(reg.host, root), creds);

  const id = await pullImage(store, `${reg.host}/test/layered:1`);
  t.is(id, LAYERED_CONFIG);
  store.tag(id, [`${reg.host}/test/mine:2`]);
  await pushImage(store, `${reg.host}/test/mine:2`);
  const fresh = new ImageStore(tempRoot(t));
  await t.throwsAsync(pullImage(fresh, `${reg.host}/test/mine:2`), { message: /unauthorized/ });
  t.is(await pullImage(fresh, `${reg.host}/test/mine:2`, { client: { credentials: creds } }), id);
  t.deepEqual(fsck(fresh), []);

  t.true(logout(reg.host, root));
  t.false(logout(reg.host, root));
  t.is(getCredentials(reg.host, root), undefined);
  await t.throwsAsync(pullImage(store, `${reg.host}/test/mine:2`), { message: /unauthorized: authentication required/ });

  // Stored credentials that have gone stale: the message says whose they are.
  await t.throwsAsync(pullImage(store, `${reg.host}/test/mine:2`, { client: { credentials: { username: 'alice', password: 'old' } } }), {
    message: new RegExp(`credentials for ${reg.host.replace(/\./g, '\\.')} were rejected`),
  });
}, { ...REGISTRY, ...SKOPEO, ...HTPASSWD });

it('chunked upload of a blob larger than the chunk size', async (t) => {
  const reg = await startRegistry(t);
  const a = new ImageStore(tempRoot(t));
  const id = await loadLayered(a);
  const target = `${reg.host}/test/chunked:1`;
  a.tag(id, [target]);
  const big = a.manifest(id).manifest.layers.reduce((x, y) => (x.size > y.size ? x : y));
  const chunk = 256 * 1024;
  t.true(big.size > chunk * 4);
  const saved = process.env.SKIFF_PUSH_CHUNK_SIZE;
  process.env.SKIFF_PUSH_CHUNK_SIZE = String(chunk);
  t.teardown(() => {
    if (saved === undefined) delete process.env.SKIFF_PUSH_CHUNK_SIZE;
    else process.env.SKIFF_PUSH_CHUNK_SIZE = saved;
  });
  const res = await pushImage(a, target);
  const patches = reg.log().split('\n').filter((l) => l.includes('"PATCH /v2/test/chunked/blobs/uploads/'));
  t.is(patches.length, Math.ceil(big.size / chunk), 'one PATCH per chunk of the big layer; small blobs go up whole');

  const b = new ImageStore(tempRoot(t));
  t.is(await pullImage(b, target), id);
  t.is(b.manifest(id).digest, res.digest);
  t.is(sha256(b.readBlob(big.digest)), big.digest);
  t.deepEqual(fsck(b), []);
}, REGISTRY);

it('two concurrent pulls of the same image both succeed (in one process and in two)', async (t) => {
  const reg = await startRegistry(t);
  seed(reg, 'test/layered:1');
  const root = tempRoot(t);
  const store = new ImageStore(root);
  const name = `${reg.host}/test/layered:1`;
  const [x, y] = await Promise.all([pullImage(store, name), pullImage(store, name)]);
  t.is(x, LAYERED_CONFIG);
  t.is(y, LAYERED_CONFIG);
  t.deepEqual(fsck(store), []);

  // Two processes into another root at once.
  const root2 = tempRoot(t);
  const script = writeScript(root2, 'pull.mjs', PULL_SCRIPT);
  const results = await Promise.all([runNode(script, [name], root2), runNode(script, [name], root2)]);
  for (const r of results) t.is(r.code, 0, r.stderr);
  const store2 = new ImageStore(root2);
  t.is(store2.lookup(name)?.id, LAYERED_CONFIG);
  t.deepEqual(fsck(store2), []);
  t.deepEqual(tempLeftovers(store2), []);
}, { ...REGISTRY, ...SKOPEO });

it('search lists matching repositories from _catalog with their tags', async (t) => {
  const reg = await startRegistry(t);
  seed(reg, 'test/layered:1');
  seed(reg, 'test/layered:2');
  seed(reg, 'other/thing:1');
  tempRoot(t);
  const client = new RegistryClient(reg.host);
  t.teardown(() => client.close());
  const found = await searchRegistry(client, 'layer', 25, true);
  t.deepEqual(found, [{ name: `${reg.host}/test/layered`, description: '2 tags: 1, 2', stars: 0, official: false }]);
  t.is((await searchRegistry(client, '', 25, false)).length, 2);
}, { ...REGISTRY, ...SKOPEO });

// ---- the CLI verbs (through the same command modules main.ts loads) -----------------------------------

it('CLI: login --password-stdin, pull, search, push, logout', async (t) => {
  const creds = { username: 'bob', password: 'pw-for-bob' };
  const reg = await startRegistry(t, { htpasswd: creds });
  seed(reg, 'test/layered:1');
  const root = tempRoot(t);
  const cli = (args: string[], input = '') => runNode(join(distRoot, 'test', 'integration', '_registry-cli.js'), args, root, input);

  const bad = await cli(['login', '-u', 'bob', '--password-stdin', reg.host], 'nope\n');
  t.is(bad.code, 125);
  t.is(bad.stderr.trim(), `skiff: unauthorized: incorrect username or password for ${reg.host}`);
  const ok = await cli(['login', '-u', 'bob', '--password-stdin', reg.host], 'pw-for-bob\n');
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, 'Login Succeeded\n');
  t.false((ok.stdout + ok.stderr).includes('pw-for-bob'));

  const name = `${reg.host}/test/layered:1`;
  const pull = await cli(['pull', name]);
  t.is(pull.code, 0, pull.stderr);
  const lines = pull.stdout.trim().split('\n');
  t.is(lines[0], '1: Pulling from test/layered');
  t.true(lines.some((l) => /^[0-9a-f]{12}: Pull complete$/.test(l)));
  t.true(lines.includes(`Status: Downloaded newer image for ${name}`));
  t.is(lines.at(-1), name);
  t.false(pull.stdout.includes('\x1b['), 'no cursor moves when stdout is not a terminal');

  const quiet = await cli(['pull', '-q', name]);
  t.is(quiet.stdout, `${name}\n`);

  const search = await cli(['search', `${reg.host}/lay`]);
  t.is(search.code, 0, search.stderr);
  t.regex(search.stdout, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL\n/);
  t.regex(search.stdout, new RegExp(`${reg.host.replace(/\./g, '\\.')}/test/layered\\s+1 tag: 1\\s+0`));

  const store = new ImageStore(root);
  store.tag(LAYERED_CONFIG, [`${reg.host}/test/cli:9`]);
  const push = await cli(['push', `${reg.host}/test/cli:9`]);
  t.is(push.code, 0, push.stderr);
  t.regex(push.stdout, /^[0-9a-f]{12}: Mounted from test\/layered$/m, 'the layers were pulled from test/layered on the same registry');
  t.regex(push.stdout, /^9: digest: sha256:[0-9a-f]{64} size: \d+$/m);

  const out = await cli(['logout', reg.host]);
  t.is(out.stdout, `Removing login credentials for ${reg.host}\n`);
  t.is((await cli(['logout', reg.host])).stdout, `Not logged in to ${reg.host}\n`);
  const denied = await cli(['pull', name]);
  t.is(denied.code, 125);
  t.regex(denied.stderr, /^skiff: unauthorized: authentication required/);
}, { ...REGISTRY, ...SKOPEO, ...HTPASSWD });

// ---- hostile and faulty servers ---------------------------------------------------------------------------

it('a layer whose digest does not match is refused and nothing is stored', async (t) => {
  const image = buildImage([fixtureLayers()[0]]);
  const srv = await startTestRegistry(t, { repo: 'evil/img', tag: 'x', image, corruptBlob: image.layers[0].digest });
  const store = new ImageStore(tempRoot(t));
  await t.throwsAsync(pullImage(store, `${srv.host}/evil/img:x`), { message: /digest mismatch/ });
  t.is(blobCount(store), 0, 'no blob at all: not the bad layer, not the (good) config');
  t.deepEqual(store.ids(), []);
  t.deepEqual(store.repositories(), {});
  t.deepEqual(existsSync(store.layersDir) ? readdirSync(store.layersDir) : [], []);
  t.deepEqual(tempLeftovers(store), []);
});

it('a hostile layer is refused while it streams in: the host is untouched and nothing of it is kept', async (t) => {
  const root = tempRoot(t);
  const outside = join(root, 'outside');
  mkdirSync(outside);
  // Refused only after ~1 MiB of good files, so the refusal comes mid-download, mid-unpack.
  const pack = tar.pack();
  for (let i = 0; i < 16; i++) pack.entry({ name: `ok/f${i}`, type: 'file' }, randomBytes(64 * 1024));
  pack.entry({ name: 'evil', type: 'symlink', linkname: outside });
  pack.entry({ name: 'evil/canary', type: 'file' }, 'pwned\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  const image = buildImage([Buffer.concat(chunks)]);
  const srv = await startTestRegistry(t, { repo: 'evil/hostile', tag: 'x', image });
  const store = new ImageStore(root);
  await t.throwsAsync(pullImage(store, `${srv.host}/evil/hostile:x`), { message: /^failed to register layer sha256:[0-9a-f]{64}: .*through the symlink/ });
  t.deepEqual(readdirSync(outside), [], 'nothing was written through the symlink');
  t.is(blobCount(store), 0, 'neither the layer blob nor the config is kept');
  t.deepEqual(readdirSync(store.layersDir), [], 'no layer, no temporary');
  t.deepEqual(tempLeftovers(store), []);
  t.deepEqual(store.ids(), []);
});

it('a 10 MB garbage manifest is a clear error; so is a small garbage one', async (t) => {
  const image = buildImage([fixtureLayers()[1]]);
  const garbage = Buffer.alloc(10 * 1024 * 1024, 'x');
  const srv = await startTestRegistry(t, { repo: 'evil/big', tag: 'x', image, manifestBody: garbage });
  const store = new ImageStore(tempRoot(t));
  await t.throwsAsync(pullImage(store, `${srv.host}/evil/big:x`), { message: /^manifest too large: / });
  srv.opts.manifestChunked = true; // no Content-Length: the limit holds while reading
  await t.throwsAsync(pullImage(store, `${srv.host}/evil/big:x`), { message: /^manifest too large: / });
  srv.opts.manifestBody = Buffer.from('{"schemaVersion": 2, "config": ');
  srv.opts.manifestChunked = false;
  await t.throwsAsync(pullImage(store, `${srv.host}/evil/big:x`), { message: /^manifest invalid: / });
  srv.opts.manifestBody = Buffer.from('{"schemaVersion": 2, "config": {"digest": "sha256:../../etc", "size": 1}, "layers": []}');
  await t.throwsAsync(pullImage(store, `${srv.host}/evil/big:x`), { message: /^manifest invalid: / });
  t.is(blobCount(store), 0);
  t.deepEqual(store.ids(), []);
});

it('a connection dropped mid-blob is retried (with Range, or from the start) and the pull succeeds', async (t) => {
  const image = buildImage(fixtureLayers());
  const big = image.layers[0];
  for (const ignoreRange of [false, true]) {
    const srv = await startTestRegistry(t, { repo: 'flaky/img', tag: 'x', image, dropFirstBlobGet: true, ignoreRange });
    const store = new ImageStore(tempRoot(t));
    const id = await pullImage(store, `${srv.host}/flaky/img:x`, { client: { backoffMs: 20 } });
    t.is(id, image.configDigest);
    const gets = srv.requests.filter((r) => r.startsWith(`GET /v2/flaky/img/blobs/${big.digest}`));
    t.is(gets.length, 2, `${ignoreRange ? 'no-range' : 'range'} server: one dropped GET, one retry`);
    t.regex(gets[1], /bytes=\d+-$/, 'the retry resumes where the first stopped');
    t.deepEqual(fsck(store), []);
  }
});

it('5xx and 429 answers are retried with backoff; a registry that stays down is a clear error', async (t) => {
  const image = buildImage([fixtureLayers()[1]]);
  const srv = await startTestRegistry(t, { repo: 'busy/img', tag: 'x', image, unavailable: 3 });
  const store = new ImageStore(tempRoot(t));
  t.is(await pullImage(store, `${srv.host}/busy/img:x`, { client: { backoffMs: 10 } }), image.configDigest);
  t.is(srv.requests.filter((r) => r.startsWith('GET /v2/busy/img/manifests/x')).length, 4, '3 refusals, then the manifest');
  srv.opts.unavailable = 100;
  await t.throwsAsync(pullImage(new ImageStore(tempRoot(t)), `${srv.host}/busy/img:x`, { client: { backoffMs: 10, attempts: 3 } }), { message: /^(unavailable|toomanyrequests): try again$/ });
});

it('bearer tokens: fetched from the realm with the credentials, per scope', async (t) => {
  const image = buildImage([fixtureLayers()[1]]);
  const creds = { username: 'carol', password: 'tok-pw' };
  const srv = await startTestRegistry(t, { repo: 'priv/img', tag: 'x', image, bearer: creds });
  const root = tempRoot(t);
  const store = new ImageStore(root);
  await t.throwsAsync(pullImage(store, `${srv.host}/priv/img:x`), { message: /unauthorized/ });
  await t.throwsAsync(login(srv.host, { ...creds, password: 'bad' }, { root }), { message: /incorrect username or password/ });
  await login(srv.host, creds, { root });
  t.is(await pullImage(store, `${srv.host}/priv/img:x`), image.configDigest);
  t.true(srv.requests.some((r) => r.startsWith('GET /token')));
  t.deepEqual(fsck(store), []);
});

it('ensureImage pulls a missing image and says so on its output stream', async (t) => {
  const image = buildImage(fixtureLayers());
  const srv = await startTestRegistry(t, { repo: 'lib/img', tag: 'latest', image });
  const store = new ImageStore(tempRoot(t));
  let out = '';
  const sink = Object.assign(new (await import('node:stream')).Writable({ write(c, _e, cb) { out += c; cb(); } }), { isTTY: false });
  const img = await ensureImage(store, `${srv.host}/lib/img`, { out: sink });
  t.is(img.id, image.configDigest);
  t.true(out.startsWith(`Unable to find image '${srv.host}/lib/img:latest' locally\nlatest: Pulling from lib/img\n`));
  t.regex(out, /Status: Downloaded newer image for /);
});

it('a manifest list / OCI index: the platform is selected, --platform overrides, the index digest is recorded', async (t) => {
  const image = buildImage([fixtureLayers()[1]]);
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: `sha256:${'b'.repeat(64)}`, size: 100, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: image.manifestDigest, size: image.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  }));
  const srv = await startTestRegistry(t, { repo: 'multi/img', tag: 'x', image, index });
  const store = new ImageStore(tempRoot(t));
  const rec = recorder();
  t.is(await pullImage(store, `${srv.host}/multi/img:x`, { platform: 'linux/amd64', onProgress: rec.onProgress }), image.configDigest);
  t.true(rec.messages().includes(`Digest: ${sha256(index)}`));
  t.deepEqual(store.get(image.configDigest).repoDigests, [`${srv.host}/multi/img@${sha256(index)}`]);
  t.is(store.manifest(image.configDigest).digest, image.manifestDigest, 'the platform manifest is what the store keeps');
  await t.throwsAsync(pullImage(store, `${srv.host}/multi/img:x`, { platform: 'linux/s390x' }), { message: /^no matching manifest for linux\/s390x in the manifest list entries/ });
  await t.throwsAsync(pullImage(store, `${srv.host}/multi/img:x`, { platform: 'linux/arm64' }), { message: /^manifest unknown: / });
  await t.throwsAsync(pullImage(store, `${srv.host}/multi/img:x`, { platform: 'amd64' }), { message: /^invalid platform "amd64"/ });
});

// ---- kill -9 mid-pull ----------------------------------------------------------------------------------

const PULL_SCRIPT = `
import { ImageStore } from '@DIST@/runtime/image/store.js';
import { pullImage } from '@DIST@/runtime/registry/pull.js';
const store = new ImageStore(process.env.SKIFF_ROOT);
const id = await pullImage(store, process.argv[2], { onProgress: (e) => process.stdout.write(JSON.stringify(e) + '\\n') });
process.stdout.write('pulled ' + id + '\\n');
`;

it('kill -9 during a pull, at several points, then pull again: the store stays consistent', async (t) => {
  const image = buildImage(fixtureLayers());
  const big = image.layers[0];
  const srv = await startTestRegistry(t, { repo: 'slow/img', tag: 'x', image, slow: { chunk: 32 * 1024, delayMs: 15 } });
  const root = tempRoot(t);
  const store = new ImageStore(root);
  const script = writeScript(root, 'pull.mjs', PULL_SCRIPT);
  const name = `${srv.host}/slow/img:x`;
  // Early in the big layer, late in it, and right after its last byte (verifying/unpacking).
  for (const fraction of [0.1, 0.8, 1]) {
    srv.sent.clear();
    const child = spawn(process.execPath, [script, name], { env: { ...process.env, SKIFF_ROOT: root }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const threshold = Math.floor(big.size * fraction);
    while ((srv.sent.get(big.digest) ?? 0) < threshold && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    t.false(stdout.includes('pulled '), `killed before the pull finished (at ${fraction})`);
    t.deepEqual(store.ids(), [], 'no half image is visible');
    t.is(store.lookup(name), undefined);
    t.deepEqual(fsck(store), []);
  }
  // The next pull completes, reusing what was verified, and sweeps the dead pulls' temp files.
  srv.opts.slow = undefined;
  const rec = recorder();
  const id = await pullImage(store, name, { onProgress: rec.onProgress });
  t.is(id, image.configDigest);
  t.deepEqual(fsck(store), []);
  t.deepEqual(tempLeftovers(store), []);
  t.truthy(store.lookup(name));
});

// ---- child processes ----------------------------------------------------------------------------------

function runNode(script: string, args: string[], root: string, input = ''): Promise<Result> {
  return runProcess(process.execPath, [script, ...args], { env: { ...process.env, SKIFF_ROOT: root }, input, timeoutMs: 60_000 });
}
