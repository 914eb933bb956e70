// `skiff registry serve` against real clients: skopeo pushes and pulls the
// busybox fixtures through it, and plain fetch exercises the protocol corners
// (chunked uploads, ranges, digest checks, pagination, mounts, auth). Every
// test runs its own server on 127.0.0.1 port 0 with its own temporary root,
// so tests run in parallel and leave nothing behind. No root needed.
import test, { type ExecutionContext } from 'ava';
import bcrypt from 'bcryptjs';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needs } from './_tools.js';
import { startRegistry, type RegistryOptions } from '../../runtime/registry/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..'); // dist/test/integration -> repo
const fixtures = join(repo, 'rootfs-fixtures', 'out');
const cli = join(repo, 'dist', 'bin', 'main.cjs');

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

const skopeoTest = needs({ skopeo: 'skopeo' });

// ---- helpers ----

interface Served { url: string; port: number; host: string; root: string; lines: string[]; close(): Promise<void> }

// Teardowns do not run when a worker dies of an uncaught exception; this still does.
const madeDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(t: ExecutionContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.add(dir);
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    madeDirs.delete(dir);
  });
  return dir;
}

async function serve(t: ExecutionContext, extra: Partial<RegistryOptions> = {}): Promise<Served> {
  const root = tempDir(t, 'skiff-registry-');
  const lines: string[] = [];
  const reg = await startRegistry({ addr: '127.0.0.1:0', root, log: (l) => lines.push(l), ...extra });
  // Registered after tempDir's teardown, so it runs first (ava runs teardowns in reverse).
  t.teardown(() => reg.close());
  return { ...reg, root, lines, host: `127.0.0.1:${reg.port}` };
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface ErrorBody { errors: { code: string; message: string; detail?: unknown }[] }

/** The spec's error code from a JSON error body. */
async function errorCode(res: Response): Promise<string> {
  const type = res.headers.get('content-type');
  if (!type?.startsWith('application/json')) throw new Error(`expected a JSON error body, got ${type}`);
  return ((await res.json()) as ErrorBody).errors[0].code;
}

/** Monolithic upload: POST ?digest= with the whole blob. */
async function pushBlob(r: Served, name: string, data: Buffer<ArrayBuffer> | string): Promise<string> {
  const digest = sha256(data);
  const res = await fetch(`${r.url}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
  if (res.status !== 201) throw new Error(`blob push: ${res.status} ${await res.text()}`);
  return digest;
}

/** A minimal OCI image (config + one layer) pushed under `tag`; returns the manifest's bytes and digest. */
async function pushImage(r: Served, name: string, tag: string, seed = tag): Promise<{ bytes: string; digest: string }> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', seed });
  const layer = randomBytes(100);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(r, name, config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await pushBlob(r, name, layer), size: layer.length }],
  });
  const res = await fetch(`${r.url}/v2/${name}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest });
  if (res.status !== 201) throw new Error(`manifest push: ${res.status} ${await res.text()}`);
  return { bytes: manifest, digest: sha256(manifest) };
}

interface Proc { code: number; stdout: string; stderr: string }
function run(cmd: string, args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = process.env): Promise<Proc> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
/** A self-signed certificate (cert.pem, key.pem in DIR) for CN, valid for the subjectAltName SAN. */
async function selfSigned(dir: string, cn: string, san: string): Promise<{ cert: string; key: string } | { error: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const gen = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`]);
  return gen.code === 0 ? { cert, key } : { error: `openssl: ${gen.stderr}` };
}
async function skopeo(t: ExecutionContext, args: string[]): Promise<string> {
  const r = await run('skopeo', args);
  if (r.code !== 0) t.fail(`skopeo ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Layer digests of an OCI layout's only (or named) image. */
function ociLayers(dir: string): { manifest: { layers: { digest: string }[]; config: { digest: string } }; digest: string } {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const digest = index.manifests[0].digest;
  const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), 'utf8'));
  return { manifest, digest };
}

// ---- skopeo: real push and pull ----

skopeoTest('skopeo pushes a docker-archive and pulls it back unchanged', async (t) => {
  const r = await serve(t);
  const work = tempDir(t, 'skiff-registry-work-');
  const ref = `docker://${r.host}/test/busybox:1`;
  const digestFile = join(work, 'pushed-digest');
  await skopeo(t, ['copy', '--dest-tls-verify=false', '--digestfile', digestFile, `docker-archive:${join(fixtures, 'busybox.tar')}`, ref]);
  const pushed = readFileSync(digestFile, 'utf8').trim();

  // The registry serves the exact bytes skopeo pushed: their sha256 is the digest skopeo computed.
  const raw = await skopeo(t, ['inspect', '--tls-verify=false', '--raw', ref]);
  t.is(sha256(raw), pushed);
  const manifest = JSON.parse(raw) as { mediaType: string; layers: { digest: string }[]; config: { digest: string } };
  t.is(manifest.mediaType, DOCKER_MANIFEST);
  const res = await fetch(`${r.url}/v2/test/busybox/manifests/1`, { headers: { Accept: DOCKER_MANIFEST } });
  t.is(res.headers.get('content-type'), DOCKER_MANIFEST);
  t.is(res.headers.get('docker-content-digest'), pushed);
  t.is(await res.text(), raw);

  const info = JSON.parse(await skopeo(t, ['inspect', '--tls-verify=false', ref])) as { Digest: string; RepoTags: string[]; Layers: string[] };
  t.is(info.Digest, pushed);
  t.deepEqual(info.RepoTags, ['1']);
  t.deepEqual(info.Layers, manifest.layers.map((l) => l.digest));

  // Pull into an OCI layout: skopeo rewrites the manifest as OCI, but the layers are the same blobs.
  const oci = join(work, 'oci');
  await skopeo(t, ['copy', '--src-tls-verify=false', ref, `oci:${oci}:x`]);
  t.deepEqual(ociLayers(oci).manifest.layers.map((l) => l.digest), manifest.layers.map((l) => l.digest));
  // Pull into a dir: the manifest is kept byte for byte.
  const dir = join(work, 'dir');
  await skopeo(t, ['copy', '--src-tls-verify=false', ref, `dir:${dir}`]);
  t.is(sha256(readFileSync(join(dir, 'manifest.json'))), pushed);
  for (const l of manifest.layers) t.is(sha256(readFileSync(join(dir, l.digest.slice(7)))), l.digest);

  // The access log has one line per request, with method, path, status, bytes and time.
  t.true(r.lines.some((l) => /"PUT \/v2\/test\/busybox\/manifests\/1" 201 0 \d+ms$/.test(l)), r.lines.join('\n'));
  t.true(r.lines.some((l) => /"GET \/v2\/test\/busybox\/blobs\/sha256:[0-9a-f]{64}" 200 \d+ \d+ms/.test(l)));
});

skopeoTest('skopeo pushes an OCI archive and --format oci; digests survive the round trip', async (t) => {
  const r = await serve(t);
  const work = tempDir(t, 'skiff-registry-work-');
  // An OCI archive goes up as is: the registry's digest is the archive's own manifest digest.
  const source = JSON.parse(spawnSync('tar', ['xOf', join(fixtures, 'busybox-oci.tar'), 'index.json']).stdout.toString()) as { manifests: { digest: string }[] };
  const ref = `docker://${r.host}/library/busybox:oci`;
  await skopeo(t, ['copy', '--dest-tls-verify=false', `oci-archive:${join(fixtures, 'busybox-oci.tar')}`, ref]);
  const res = await fetch(`${r.url}/v2/library/busybox/manifests/oci`, { method: 'HEAD' });
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), OCI_MANIFEST);
  t.is(res.headers.get('docker-content-digest'), source.manifests[0].digest);

  // A docker-archive converted to OCI on the way up.
  const converted = `docker://${r.host}/a/b/c:converted`;
  await skopeo(t, ['copy', '--dest-tls-verify=false', '--format', 'oci', `docker-archive:${join(fixtures, 'busybox.tar')}`, converted]);
  const raw = await skopeo(t, ['inspect', '--tls-verify=false', '--raw', converted]);
  t.is((JSON.parse(raw) as { mediaType: string }).mediaType, OCI_MANIFEST);
  const oci = join(work, 'oci');
  await skopeo(t, ['copy', '--src-tls-verify=false', converted, `oci:${oci}:x`]);
  t.is(ociLayers(oci).digest, sha256(raw)); // OCI to OCI: nothing to rewrite, same digest
  const catalog = await (await fetch(`${r.url}/v2/_catalog`)).json();
  t.deepEqual(catalog, { repositories: ['a/b/c', 'library/busybox'] });
});

skopeoTest('skopeo round-trips a two-layer image, and copies between repositories (mount)', async (t) => {
  const r = await serve(t);
  const work = tempDir(t, 'skiff-registry-work-');
  const ref = `docker://${r.host}/test/layered:latest`;
  await skopeo(t, ['copy', '--dest-tls-verify=false', `docker-archive:${join(fixtures, 'busybox-layered.tar')}`, ref]);
  const raw = await skopeo(t, ['inspect', '--tls-verify=false', '--raw', ref]);
  const layers = (JSON.parse(raw) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
  t.is(layers.length, 2);
  const dir = join(work, 'dir');
  await skopeo(t, ['copy', '--src-tls-verify=false', ref, `dir:${dir}`]);
  t.is(readFileSync(join(dir, 'manifest.json'), 'utf8'), raw);
  for (const l of layers) t.is(sha256(readFileSync(join(dir, l.slice(7)))), l);

  // Registry to registry: the blobs are already here, so nothing is uploaded again.
  await skopeo(t, ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', ref, `docker://${r.host}/other/layered:copy`]);
  t.is(await skopeo(t, ['inspect', '--tls-verify=false', '--raw', `docker://${r.host}/other/layered:copy`]), raw);
  const patches = r.lines.filter((l) => l.includes('"PATCH /v2/other/layered/'));
  t.is(patches.length, 0, patches.join('\n'));
});

// ---- protocol, with plain fetch ----

test('GET /v2/ answers {} with the API version header; unknown routes and names are refused', async (t) => {
  const r = await serve(t);
  const res = await fetch(`${r.url}/v2/`);
  t.is(res.status, 200);
  t.is(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  t.deepEqual(await res.json(), {});
  const bad = await fetch(`${r.url}/v2/Upper/Case/tags/list`);
  t.is(bad.status, 400);
  t.is(await errorCode(bad), 'NAME_INVALID');
  for (const name of ['a//b', 'a/-b', 'a/b_', 'a/%2F/b', `${'x'.repeat(256)}`]) {
    const res = await fetch(`${r.url}/v2/${name}/tags/list`);
    t.is(res.status, 400, name);
    t.is(await errorCode(res), 'NAME_INVALID', name);
  }
  // Dot segments are resolved away before routing, so they can never reach the filesystem.
  t.is(await errorCode(await fetch(`${r.url}/v2/a/%2e%2e/b/tags/list`)), 'NAME_UNKNOWN');
  const unknownRepo = await fetch(`${r.url}/v2/nope/tags/list`);
  t.is(unknownRepo.status, 404);
  t.is(await errorCode(unknownRepo), 'NAME_UNKNOWN');
  t.is((await fetch(`${r.url}/other`)).status, 404);
});

test('chunked upload: POST, several PATCHes with Content-Range, status, PUT with a final chunk', async (t) => {
  const r = await serve(t);
  const data = randomBytes(3 * 65536 + 123);
  const chunks = [data.subarray(0, 65536), data.subarray(65536, 150000), data.subarray(150000, 196000), data.subarray(196000)];
  const start = await fetch(`${r.url}/v2/library/busybox/blobs/uploads/`, { method: 'POST' });
  t.is(start.status, 202);
  t.is(start.headers.get('range'), '0-0');
  const uuid = start.headers.get('docker-upload-uuid')!;
  let location = start.headers.get('location')!;
  t.is(location, `/v2/library/busybox/blobs/uploads/${uuid}`);

  let offset = 0;
  for (const chunk of chunks.slice(0, 3)) {
    const res = await fetch(new URL(location, r.url), {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
      body: chunk,
    });
    t.is(res.status, 202);
    offset += chunk.length;
    t.is(res.headers.get('range'), `0-${offset - 1}`);
    location = res.headers.get('location')!;
  }
  // A chunk that does not start where the upload ends is refused with 416 and the current Range.
  const gap = await fetch(new URL(location, r.url), { method: 'PATCH', headers: { 'Content-Range': `${offset + 10}-${offset + 19}` }, body: Buffer.alloc(10) });
  t.is(gap.status, 416);
  t.is(gap.headers.get('range'), `0-${offset - 1}`);
  t.is(await errorCode(gap), 'BLOB_UPLOAD_INVALID');

  const status = await fetch(new URL(location, r.url));
  t.is(status.status, 204);
  t.is(status.headers.get('range'), `0-${offset - 1}`);
  t.is(status.headers.get('docker-upload-uuid'), uuid);

  const digest = sha256(data);
  const last = chunks[3];
  const put = await fetch(new URL(`${location}?digest=${digest}`, r.url), {
    method: 'PUT', headers: { 'Content-Range': `${offset}-${offset + last.length - 1}` }, body: last,
  });
  t.is(put.status, 201);
  t.is(put.headers.get('location'), `/v2/library/busybox/blobs/${digest}`);
  t.is(put.headers.get('docker-content-digest'), digest);

  const head = await fetch(`${r.url}/v2/library/busybox/blobs/${digest}`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), String(data.length));
  t.is(head.headers.get('docker-content-digest'), digest);
  const get = await fetch(`${r.url}/v2/library/busybox/blobs/${digest}`);
  t.true(Buffer.from(await get.arrayBuffer()).equals(data));
  t.true(existsSync(join(r.root, 'blobs', 'sha256', digest.slice(7))));
  // The finished upload is gone, and says so.
  t.deepEqual(readdirSync(join(r.root, 'uploads')), []);
  const after = await fetch(new URL(location, r.url));
  t.is(after.status, 404);
  t.is(await errorCode(after), 'BLOB_UPLOAD_UNKNOWN');
});

test('an upload can be cancelled, and an upload is bound to its repository', async (t) => {
  const r = await serve(t);
  const start = await fetch(`${r.url}/v2/one/blobs/uploads/`, { method: 'POST' });
  const uuid = start.headers.get('docker-upload-uuid')!;
  const elsewhere = await fetch(`${r.url}/v2/two/blobs/uploads/${uuid}`);
  t.is(elsewhere.status, 404);
  t.is(await errorCode(elsewhere), 'BLOB_UPLOAD_UNKNOWN');
  t.is((await fetch(`${r.url}/v2/one/blobs/uploads/${uuid}`, { method: 'DELETE' })).status, 204);
  t.is((await fetch(`${r.url}/v2/one/blobs/uploads/${uuid}`)).status, 404);
  t.is((await fetch(`${r.url}/v2/one/blobs/uploads/not-a-uuid`, { method: 'PATCH', body: 'x' })).status, 404);
});

test('blob GET honours Range: bytes=N-M, suffix and open ranges; unsatisfiable is 416', async (t) => {
  const r = await serve(t);
  const data = Buffer.from('0123456789abcdefghij');
  const digest = await pushBlob(r, 'r', data);
  const get = (range: string) => fetch(`${r.url}/v2/r/blobs/${digest}`, { headers: { Range: range } });
  let res = await get('bytes=2-5');
  t.is(res.status, 206);
  t.is(res.headers.get('content-range'), `bytes 2-5/${data.length}`);
  t.is(res.headers.get('content-length'), '4');
  t.is(await res.text(), '2345');
  res = await get('bytes=15-');
  t.is(res.status, 206);
  t.is(await res.text(), 'fghij');
  res = await get('bytes=-3');
  t.is(await res.text(), 'hij');
  res = await get('bytes=18-100'); // the end is clamped to the blob
  t.is(res.headers.get('content-range'), `bytes 18-19/${data.length}`);
  t.is(await res.text(), 'ij');
  res = await get('bytes=20-25');
  t.is(res.status, 416);
  t.is(res.headers.get('content-range'), `bytes */${data.length}`);
  await res.arrayBuffer();
  res = await fetch(`${r.url}/v2/r/blobs/${digest}`);
  t.is(res.status, 200);
  t.is(res.headers.get('accept-ranges'), 'bytes');
  t.is(await res.text(), data.toString());
});

test('a digest mismatch is DIGEST_INVALID and leaves no blob behind', async (t) => {
  const r = await serve(t);
  const data = Buffer.from('the real content');
  const wrong = sha256('something else');
  const mono = await fetch(`${r.url}/v2/x/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: data });
  t.is(mono.status, 400);
  t.is(await errorCode(mono), 'DIGEST_INVALID');

  const start = await fetch(`${r.url}/v2/x/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location')!;
  t.is((await fetch(new URL(location, r.url), { method: 'PATCH', body: data })).status, 202);
  const put = await fetch(new URL(`${location}?digest=${wrong}`, r.url), { method: 'PUT' });
  t.is(put.status, 400);
  t.is(await errorCode(put), 'DIGEST_INVALID');
  const head = await fetch(`${r.url}/v2/x/blobs/${wrong}`, { method: 'HEAD' });
  t.is(head.status, 404);
  t.is((await fetch(`${r.url}/v2/x/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
  t.deepEqual(readdirSync(join(r.root, 'blobs', 'sha256')), []);
  t.deepEqual(readdirSync(join(r.root, 'uploads')), []);
  // A PUT without any digest, or with a malformed one, is DIGEST_INVALID too.
  const again = await fetch(`${r.url}/v2/x/blobs/uploads/`, { method: 'POST' });
  const loc2 = again.headers.get('location')!;
  t.is(await errorCode(await fetch(new URL(loc2, r.url), { method: 'PUT' })), 'DIGEST_INVALID');
  t.is(await errorCode(await fetch(new URL(`${loc2}?digest=sha256:xyz`, r.url), { method: 'PUT' })), 'DIGEST_INVALID');
});

test('an unknown blob is 404 BLOB_UNKNOWN with a JSON body; DELETE of a blob is UNSUPPORTED', async (t) => {
  const r = await serve(t);
  const digest = sha256('never pushed');
  const res = await fetch(`${r.url}/v2/library/busybox/blobs/${digest}`);
  t.is(res.status, 404);
  const body = (await res.json()) as ErrorBody;
  t.is(body.errors[0].code, 'BLOB_UNKNOWN');
  t.is(typeof body.errors[0].message, 'string');
  t.deepEqual(body.errors[0].detail, { name: 'library/busybox', digest });
  const head = await fetch(`${r.url}/v2/library/busybox/blobs/${digest}`, { method: 'HEAD' });
  t.is(head.status, 404);
  const bad = await fetch(`${r.url}/v2/library/busybox/blobs/sha256:nothex`);
  t.is(bad.status, 400);
  t.is(await errorCode(bad), 'DIGEST_INVALID');
  const del = await fetch(`${r.url}/v2/library/busybox/blobs/${await pushBlob(r, 'library/busybox', 'x')}`, { method: 'DELETE' });
  t.is(del.status, 405);
  t.is(await errorCode(del), 'UNSUPPORTED');
});

test('manifests: PUT checks blobs, GET returns the exact bytes and type, by tag or digest; DELETE', async (t) => {
  const r = await serve(t);
  const config = '{"architecture":"amd64","os":"linux"}';
  const configDigest = await pushBlob(r, 'm/img', config);
  const missing = sha256('missing layer');
  // Unusual but valid formatting: the digest is of these bytes, never a re-serialisation.
  const withMissing = `{ "schemaVersion": 2,\n  "mediaType": "${DOCKER_MANIFEST}",\n  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "${configDigest}", "size": ${config.length}},\n  "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "${missing}", "size": 13}] }\n`;
  let res = await fetch(`${r.url}/v2/m/img/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': DOCKER_MANIFEST }, body: withMissing });
  t.is(res.status, 400);
  t.is(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');

  const layer = 'layer bytes!!';
  await pushBlob(r, 'm/img', layer);
  const manifest = withMissing.replace(missing, sha256(layer));
  const digest = sha256(manifest);
  res = await fetch(`${r.url}/v2/m/img/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': DOCKER_MANIFEST }, body: manifest });
  t.is(res.status, 201);
  t.is(res.headers.get('docker-content-digest'), digest);
  t.is(res.headers.get('location'), `/v2/m/img/manifests/${digest}`);

  for (const ref of ['v1', digest]) {
    const get = await fetch(`${r.url}/v2/m/img/manifests/${ref}`);
    t.is(get.status, 200);
    t.is(get.headers.get('content-type'), DOCKER_MANIFEST);
    t.is(get.headers.get('docker-content-digest'), digest);
    t.is(await get.text(), manifest);
    const head = await fetch(`${r.url}/v2/m/img/manifests/${ref}`, { method: 'HEAD' });
    t.is(head.headers.get('content-length'), String(Buffer.byteLength(manifest)));
  }
  // PUT by digest must match the body's digest.
  res = await fetch(`${r.url}/v2/m/img/manifests/${sha256('other')}`, { method: 'PUT', headers: { 'Content-Type': DOCKER_MANIFEST }, body: manifest });
  t.is(await errorCode(res), 'DIGEST_INVALID');
  // Content-Type and the body's mediaType must agree.
  res = await fetch(`${r.url}/v2/m/img/manifests/v2`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest });
  t.is(await errorCode(res), 'MANIFEST_INVALID');

  // An index needs its children to be manifests of this repository.
  const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: DOCKER_MANIFEST, digest, size: Buffer.byteLength(manifest), platform: { architecture: 'amd64', os: 'linux' } }] });
  res = await fetch(`${r.url}/v2/elsewhere/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': OCI_INDEX }, body: index });
  t.is(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
  res = await fetch(`${r.url}/v2/m/img/manifests/multi`, { method: 'PUT', headers: { 'Content-Type': OCI_INDEX }, body: index });
  t.is(res.status, 201);
  t.is((await fetch(`${r.url}/v2/m/img/manifests/multi`)).headers.get('content-type'), OCI_INDEX);

  // Unknown references.
  res = await fetch(`${r.url}/v2/m/img/manifests/nope`);
  t.is(res.status, 404);
  t.is(await errorCode(res), 'MANIFEST_UNKNOWN');
  // Deleting a tag leaves the manifest; deleting the digest removes it and the tags on it.
  t.is((await fetch(`${r.url}/v2/m/img/manifests/multi`, { method: 'DELETE' })).status, 202);
  t.is((await fetch(`${r.url}/v2/m/img/manifests/multi`)).status, 404);
  t.is((await fetch(`${r.url}/v2/m/img/manifests/${sha256(index)}`)).status, 200);
  t.is((await fetch(`${r.url}/v2/m/img/manifests/${digest}`, { method: 'DELETE' })).status, 202);
  t.is((await fetch(`${r.url}/v2/m/img/manifests/v1`)).status, 404);
  t.deepEqual(await (await fetch(`${r.url}/v2/m/img/tags/list`)).json(), { name: 'm/img', tags: [] });
  t.is((await fetch(`${r.url}/v2/m/img/manifests/${digest}`, { method: 'DELETE' })).status, 404);
});

test('a 10 MB garbage manifest is refused as MANIFEST_INVALID; so are small malformed ones', async (t) => {
  const r = await serve(t);
  const garbage = randomBytes(10 * 1024 * 1024);
  let res = await fetch(`${r.url}/v2/g/manifests/big`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: garbage });
  t.is(res.status, 413);
  t.is(await errorCode(res), 'MANIFEST_INVALID');
  for (const body of ['not json at all', '[1,2,3]', '{"schemaVersion":1}', `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{},"layers":[]}`,
    `{"schemaVersion":2,"mediaType":"application/vnd.example.weird+json"}`]) {
    res = await fetch(`${r.url}/v2/g/manifests/small`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body });
    t.is(res.status, 400, body);
    t.is(await errorCode(res), 'MANIFEST_INVALID', body);
  }
  res = await fetch(`${r.url}/v2/g/manifests/bad:tag`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: '{}' });
  t.is(res.status, 400);
  // Nothing was stored.
  t.is((await fetch(`${r.url}/v2/g/tags/list`)).status, 404);
  t.deepEqual(readdirSync(join(r.root, 'blobs', 'sha256')), []);
});

test('tags/list paginates with n and last, and the Link header leads through every page', async (t) => {
  const r = await serve(t);
  const tags = ['v1', 'v2', 'latest', 'A-upper', 'beta_1', 'v1.0.0', 'v10'];
  for (const tag of tags) await pushImage(r, 'library/pages', tag);
  const all = await (await fetch(`${r.url}/v2/library/pages/tags/list`)).json();
  const sorted = [...tags].sort();
  t.deepEqual(all, { name: 'library/pages', tags: sorted });

  const seen: string[] = [];
  let next: string | undefined = '/v2/library/pages/tags/list?n=3';
  let pages = 0;
  while (next) {
    const res: Response = await fetch(new URL(next, r.url));
    const body = (await res.json()) as { tags: string[] };
    t.true(body.tags.length <= 3);
    seen.push(...body.tags);
    pages++;
    const link: string | null = res.headers.get('link');
    next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : undefined;
  }
  t.is(pages, 3);
  t.deepEqual(seen, sorted);
  const first = await fetch(`${r.url}/v2/library/pages/tags/list?n=2`);
  t.is(first.headers.get('link'), `</v2/library/pages/tags/list?n=2&last=${sorted[1]}>; rel="next"`);
  t.deepEqual(((await (await fetch(`${r.url}/v2/library/pages/tags/list?last=v1`)).json()) as { tags: string[] }).tags, sorted.filter((x) => x > 'v1'));
  const bad = await fetch(`${r.url}/v2/library/pages/tags/list?n=-1`);
  t.is(bad.status, 400);
});

test('_catalog lists repositories (names with slashes) in order, with pagination', async (t) => {
  const r = await serve(t);
  const repos = ['zeta', 'a/b/c', 'library/busybox', 'a', 'a/tags', 'b-c'];
  for (const name of repos) await pushImage(r, name, 'latest', name);
  const all = (await (await fetch(`${r.url}/v2/_catalog`)).json()) as { repositories: string[] };
  t.deepEqual(all.repositories, [...repos].sort());
  const page = await fetch(`${r.url}/v2/_catalog?n=4`);
  t.deepEqual(((await page.json()) as { repositories: string[] }).repositories, [...repos].sort().slice(0, 4));
  const link = page.headers.get('link')!;
  t.is(link, `</v2/_catalog?n=4&last=${encodeURIComponent([...repos].sort()[3])}>; rel="next"`);
  const rest = await fetch(new URL(/^<([^>]+)>/.exec(link)![1], r.url));
  t.deepEqual(((await rest.json()) as { repositories: string[] }).repositories, [...repos].sort().slice(4));
  t.is(rest.headers.get('link'), null);
  // Repository `a` and repository `a/tags` do not see each other's tags.
  t.deepEqual(await (await fetch(`${r.url}/v2/a/tags/list`)).json(), { name: 'a', tags: ['latest'] });
  t.deepEqual(await (await fetch(`${r.url}/v2/a/tags/tags/list`)).json(), { name: 'a/tags', tags: ['latest'] });
});

test('cross-repository mount: 201 when the blob exists, else a 202 upload session', async (t) => {
  const r = await serve(t);
  const digest = await pushBlob(r, 'source/repo', 'shared layer');
  const res = await fetch(`${r.url}/v2/dest/repo/blobs/uploads/?mount=${digest}&from=source/repo`, { method: 'POST' });
  t.is(res.status, 201);
  t.is(res.headers.get('location'), `/v2/dest/repo/blobs/${digest}`);
  t.is(res.headers.get('docker-content-digest'), digest);
  t.is(await (await fetch(`${r.url}/v2/dest/repo/blobs/${digest}`)).text(), 'shared layer');
  const absent = sha256('not here');
  const fallback = await fetch(`${r.url}/v2/dest/repo/blobs/uploads/?mount=${absent}&from=source/repo`, { method: 'POST' });
  t.is(fallback.status, 202);
  t.regex(fallback.headers.get('location')!, /^\/v2\/dest\/repo\/blobs\/uploads\/[0-9a-f-]{36}$/);
});

test('ten blob uploads at once all land intact', async (t) => {
  const r = await serve(t);
  const blobs = Array.from({ length: 10 }, () => randomBytes(256 * 1024 + Math.floor(Math.random() * 4096)));
  await Promise.all(blobs.map(async (data, i) => {
    const name = `concurrent/r${i % 3}`;
    const start = await fetch(`${r.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    let location = start.headers.get('location')!;
    for (let off = 0; off < data.length; off += 65536) {
      const chunk = data.subarray(off, off + 65536);
      const res = await fetch(new URL(location, r.url), { method: 'PATCH', headers: { 'Content-Range': `${off}-${off + chunk.length - 1}` }, body: chunk });
      if (res.status !== 202) throw new Error(`PATCH ${res.status}: ${await res.text()}`);
      location = res.headers.get('location')!;
    }
    const put = await fetch(new URL(`${location}?digest=${sha256(data)}`, r.url), { method: 'PUT' });
    if (put.status !== 201) throw new Error(`PUT ${put.status}: ${await put.text()}`);
  }));
  for (const [i, data] of blobs.entries()) {
    const res = await fetch(`${r.url}/v2/concurrent/r${i % 3}/blobs/${sha256(data)}`);
    t.true(Buffer.from(await res.arrayBuffer()).equals(data));
  }
  t.is(readdirSync(join(r.root, 'blobs', 'sha256')).length, 10);
});

skopeoTest('htpasswd: Basic auth with bcrypt entries; missing or wrong credentials are 401', async (t) => {
  const dir = tempDir(t, 'skiff-registry-auth-');
  const htpasswd = join(dir, 'htpasswd');
  // `htpasswd -B` writes $2y$; bcrypt.js writes $2b$. The algorithm is the same.
  writeFileSync(htpasswd, `# users\nalice:${bcrypt.hashSync('s3cret', 5).replace(/^\$2b\$/, '$2y$')}\nbob:${bcrypt.hashSync('hunter2', 5)}\n`);
  const r = await serve(t, { htpasswd });
  const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

  let res = await fetch(`${r.url}/v2/`);
  t.is(res.status, 401);
  t.is(res.headers.get('www-authenticate'), 'Basic realm="skiff"');
  t.is(await errorCode(res), 'UNAUTHORIZED');
  res = await fetch(`${r.url}/v2/`, { headers: basic('alice', 'wrong') });
  t.is(res.status, 401);
  res = await fetch(`${r.url}/v2/`, { headers: basic('mallory', 's3cret') });
  t.is(res.status, 401);
  t.is((await fetch(`${r.url}/v2/`, { headers: basic('alice', 's3cret') })).status, 200);
  t.is((await fetch(`${r.url}/v2/`, { headers: basic('bob', 'hunter2') })).status, 200);
  // Uploads are guarded too.
  t.is((await fetch(`${r.url}/v2/x/blobs/uploads/`, { method: 'POST' })).status, 401);
  t.true(r.lines.some((l) => / alice "GET \/v2\/" 200 /.test(l)));

  const ref = `docker://${r.host}/private/busybox:1`;
  const bad = await run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:wrong', `docker-archive:${join(fixtures, 'busybox.tar')}`, ref]);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /401|unauthorized|authentication required/i);
  await skopeo(t, ['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:s3cret', `docker-archive:${join(fixtures, 'busybox.tar')}`, ref]);
  const info = JSON.parse(await skopeo(t, ['inspect', '--tls-verify=false', '--creds', 'alice:s3cret', ref])) as { RepoTags: string[] };
  t.deepEqual(info.RepoTags, ['1']);
});

needs({ openssl: 'openssl', skopeo: 'skopeo' })('TLS: with a certificate and key the registry speaks HTTPS', async (t) => {
  const dir = tempDir(t, 'skiff-registry-tls-');
  const made = await selfSigned(dir, '127.0.0.1', 'IP:127.0.0.1');
  if ('error' in made) return t.fail(made.error);
  const { cert, key } = made;
  const r = await serve(t, { tlsCert: cert, tlsKey: key });
  t.regex(r.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    https.get(`${r.url}/v2/`, { ca: readFileSync(cert) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
  t.is(status, 200);
  t.is(body, '{}');
  // A TLS connection that finished its handshake but sent nothing does not hold close() open.
  await stalled(t, r.port, '', true);
  await stalled(t, r.port, 'GET /v2/ HTTP/1.1\r\n', true);
  const t0 = Date.now();
  await r.close();
  t.true(Date.now() - t0 < 3000, `close() took ${Date.now() - t0} ms`);
  const r2 = await serve(t, { tlsCert: cert, tlsKey: key });
  // skopeo verifies the certificate against the CA in --dest-cert-dir.
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  writeFileSync(join(certDir, 'ca.crt'), readFileSync(cert));
  await skopeo(t, ['copy', '--dest-cert-dir', certDir, `docker-archive:${join(fixtures, 'busybox.tar')}`, `docker://${r2.host}/tls/busybox:1`]);
  const info = JSON.parse(await skopeo(t, ['inspect', '--cert-dir', certDir, `docker://${r2.host}/tls/busybox:1`])) as { RepoTags: string[] };
  t.deepEqual(info.RepoTags, ['1']);
});

needs({ openssl: 'openssl', skopeo: 'skopeo' })('NODE_EXTRA_CA_CERTS: the launcher keeps it from Node\'s start, and `skiff pull` still trusts it', async (t) => {
  // Node reads the file at start, before any JavaScript, and warns there when it cannot:
  // no warning through the launcher means Node never looked (nor spent its 90 ms).
  const missing = { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' };
  const direct = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8', env: missing });
  t.regex(direct.stderr, /Ignoring extra certs from `\/nonexistent\/ca\.pem`/, 'plain `node main.cjs` reads it at start');
  const launched = spawnSync(cli, ['--version'], { encoding: 'utf8', env: missing });
  t.is(launched.status, 0);
  t.is(launched.stderr, '', 'the launcher: Node did not read it');

  // A registry whose certificate only NODE_EXTRA_CA_CERTS vouches for. skiff (as Docker) does not
  // verify registries on loopback addresses, so the pull names it registry.test, which a private
  // /etc/hosts in the pull's own mount namespace maps to 127.0.0.1.
  const dir = tempDir(t, 'skiff-registry-ca-');
  const made = await selfSigned(dir, 'registry.test', 'DNS:registry.test,IP:127.0.0.1');
  if ('error' in made) return t.fail(made.error);
  const { cert, key } = made;
  const r = await serve(t, { tlsCert: cert, tlsKey: key });
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  writeFileSync(join(certDir, 'ca.crt'), readFileSync(cert));
  await skopeo(t, ['copy', '--dest-cert-dir', certDir, `docker-archive:${join(fixtures, 'busybox.tar')}`, `docker://${r.host}/tls/busybox:1`]);
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost registry.test\n');

  const ref = `registry.test:${r.port}/tls/busybox:1`;
  const pull = (ca: string | undefined) => {
    const env: NodeJS.ProcessEnv = { ...process.env, SKIFF_ROOT: join(dir, 'store') };
    delete env.NODE_EXTRA_CA_CERTS;
    delete env.SKIFF_INSECURE_REGISTRIES;
    if (ca) env.NODE_EXTRA_CA_CERTS = ca;
    // A private mount namespace, so the bind mount over /etc/hosts ends with the process.
    return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/hosts && shift && exec "$@"',
      'sh', hosts, cli, 'pull', '-q', ref], 120_000, env);
  };
  const refused = await pull(undefined);
  t.is(refused.code, 125, refused.stderr);
  t.regex(refused.stderr, /certificate/i);
  const pulled = await pull(cert);
  t.is(pulled.code, 0, pulled.stderr);
  t.is(pulled.stdout.trim(), ref);
});

/** Opens a raw connection that sends `bytes` and then stalls. */
async function stalled(t: ExecutionContext, port: number, bytes: string, tls = false): Promise<void> {
  const socket = tls ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once(tls ? 'secureConnect' : 'connect', resolve));
  if (bytes) socket.write(bytes);
}

test('close() lets an in-flight upload finish, does not wait for idle or stalled connections, then refuses new ones', async (t) => {
  const r = await serve(t);
  // An idle keep-alive connection, one that never sends a byte, and one stuck in its headers.
  t.is((await fetch(`${r.url}/v2/`)).status, 200);
  await stalled(t, r.port, '');
  await stalled(t, r.port, 'GET /v2/ HTTP/1.1\r\nHost: x\r\n');
  const start = await fetch(`${r.url}/v2/slow/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location')!;
  const half = Buffer.alloc(1000, 1);
  let resolveStatus!: (n: number) => void;
  const status = new Promise<number>((resolve) => (resolveStatus = resolve));
  const req = http.request(new URL(location, r.url), { method: 'PATCH', headers: { 'Content-Length': 2000 } }, (res) => {
    res.resume();
    resolveStatus(res.statusCode!);
  });
  req.on('error', (e) => t.fail(`in-flight PATCH failed: ${e.message}`));
  req.write(half);
  // Wait until the server is really handling it (the first half is on disk), not for a fixed time:
  // every test in this file shares one event loop, and a busy neighbour can delay the server.
  for (;;) {
    const res = await fetch(new URL(location, r.url));
    if (res.headers.get('range') === '0-999') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  let closed = false;
  const closing = r.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.false(closed, 'close() waited for the in-flight request');
  const finished = Date.now();
  req.end(half);
  t.is(await status, 202);
  await closing;
  t.true(closed);
  // Not the 10 s grace: the stalled connections were dropped (after at most the 1 s new-connection grace).
  t.true(Date.now() - finished < 3000, `close() took ${Date.now() - finished} ms after the last request`);
  await t.throwsAsync(fetch(`${r.url}/v2/`));
});

test('referrers: manifests with a subject are listed by the subject digest', async (t) => {
  const r = await serve(t);
  const image = await pushImage(r, 'ref/img', 'v1');
  const empty = '{}';
  const emptyDigest = await pushBlob(r, 'ref/img', empty);
  const sbom = JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 }],
    subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.length },
    annotations: { 'org.example': 'yes' },
  });
  const put = await fetch(`${r.url}/v2/ref/img/manifests/${sha256(sbom)}`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: sbom });
  t.is(put.status, 201);
  t.is(put.headers.get('oci-subject'), image.digest);
  const res = await fetch(`${r.url}/v2/ref/img/referrers/${image.digest}`);
  t.is(res.headers.get('content-type'), OCI_INDEX);
  t.deepEqual(await res.json(), {
    schemaVersion: 2, mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(sbom), size: sbom.length, artifactType: 'application/spdx+json', annotations: { 'org.example': 'yes' } }],
  });
  const filtered = await fetch(`${r.url}/v2/ref/img/referrers/${image.digest}?artifactType=text/plain`);
  t.is(filtered.headers.get('oci-filters-applied'), 'artifactType');
  t.deepEqual(((await filtered.json()) as { manifests: unknown[] }).manifests, []);
});

// ---- the CLI ----

test('`skiff registry serve` serves, logs each request to stderr, and exits 0 on SIGTERM', async (t) => {
  const root = tempDir(t, 'skiff-registry-cli-');
  // Use the real bundled CLI once it knows the verb; until then, the command module on its own.
  const probe = existsSync(cli) ? spawnSync(process.execPath, [cli, 'registry', '--help'], { encoding: 'utf8' }) : undefined;
  const bundled = probe?.status === 0 && probe.stdout.includes('serve');
  const entry = bundled ? cli : join(here, '_registry-cli.js');
  if (!bundled) t.log('dist/bin/main.cjs does not know `registry` yet: running the command module directly');

  const child = spawn(process.execPath, [entry, 'registry', 'serve', '--addr', '127.0.0.1:0', '--root', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  // 'close', not 'exit': only then has all of stderr been read.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${stderr}`)), 15_000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
  });
  t.is((await fetch(`${url}/v2/`)).status, 200);
  t.is((await fetch(`${url}/v2/nope/manifests/latest`)).status, 404);
  child.kill('SIGTERM');
  t.is(await exited, 0);
  t.regex(stderr, /"GET \/v2\/" 200 2 \d+ms/);
  t.regex(stderr, /"GET \/v2\/nope\/manifests\/latest" 404 \d+ \d+ms/);
  t.regex(stderr, /stopped/);
  t.true(existsSync(join(root, 'blobs', 'sha256')));
});

test('`skiff registry serve` rejects half a TLS pair and a bad address', async (t) => {
  const probe = existsSync(cli) ? spawnSync(process.execPath, [cli, 'registry', '--help'], { encoding: 'utf8' }) : undefined;
  const entry = probe?.status === 0 && probe.stdout.includes('serve') ? cli : join(here, '_registry-cli.js');
  const root = tempDir(t, 'skiff-registry-cli-');
  const half = spawnSync(process.execPath, [entry, 'registry', 'serve', '--root', root, '--tls-cert', '/nonexistent'], { encoding: 'utf8' });
  t.is(half.status, 125);
  t.regex(half.stderr, /--tls-cert and --tls-key must be given together/);
  const addr = spawnSync(process.execPath, [entry, 'registry', 'serve', '--root', root, '--addr', 'nonsense'], { encoding: 'utf8' });
  t.is(addr.status, 125);
  t.regex(addr.stderr, /invalid address/);
});
