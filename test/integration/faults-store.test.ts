// Fault injection on the store (issue 14): a full disk (a small tmpfs as
// SKIFF_ROOT), killed loads and builds, and truncated, bit-flipped or
// malformed archives and Dockerfiles. After each fault the next ordinary
// command leaves the store consistent and nothing stale behind.
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtures, Harness, harness, it, mountsUnder, ensureFixtures } from './_harness.js';
import { fsck, seed, startRegistry, tempLeftovers } from './_registry.js';
import { ImageStore } from '../../runtime/image/store.js';

const full = process.env.SKIFF_FAULTS === 'full';
const net = ['--network', 'none'];

/** A harness whose SKIFF_ROOT is a tmpfs of `mb` MiB, so the disk can really fill up. */
async function tmpfsHarness(t: ExecutionContext, mb: number): Promise<Harness> {
  ensureFixtures();
  const root = mkdtempSync('/tmp/skiff-test-fs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m,mode=711`, 'tmpfs', root]);
  const h = new Harness(root);
  t.teardown(async () => {
    rmSync(join(root, 'fill'), { force: true });
    const ids = h.containerIds();
    if (ids.length) await h.run(['rm', '-f', ...ids]);
    for (const m of mountsUnder(root).reverse()) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        // gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  });
  const r = await h.run(['load', '-q', '-i', join(fixtures, 'busybox.tar')]);
  if (r.code !== 0) throw new Error(`loading busybox: ${r.stderr}`);
  return h;
}

/** Fills the filesystem of h.root to the last byte. */
function fill(h: Harness): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(h.root, 'fill')}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // dd fails when the disk is full: that is the point
  }
}

/** Temporaries of killed commands: must not outlive the next store command. */
function temporaries(root: string): string[] {
  const out: string[] = [];
  for (const dir of [join(root, 'tmp'), join(root, 'image', 'layers'), join(root, 'image', 'blobs', 'sha256')]) {
    if (!existsSync(dir)) continue;
    for (const n of readdirSync(dir)) if (n.startsWith('load-') || n.startsWith('.tmp-')) out.push(n);
  }
  return out;
}

/** The store is consistent: every image inspects, and every blob an image lists exists. */
async function assertStoreConsistent(t: ExecutionContext, h: Harness, what: string): Promise<void> {
  const ids = (await h.ok(t, ['images', '-q'])).trim().split('\n').filter(Boolean);
  for (const id of ids) {
    const r = await h.run(['image', 'inspect', id]);
    t.is(r.code, 0, `${what}: image ${id} inspects`);
  }
  const r = await h.run(['run', '--rm', ...net, 'busybox', 'true']);
  t.is(r.code, 0, `${what}: busybox still runs (${r.stderr.trim()})`);
}

function oneLine(t: ExecutionContext, h: Harness, stderr: string, what: string): void {
  const lines = stderr.trim().split('\n');
  t.is(lines.length, 1, `${what}: one line (${stderr.trim()})`);
  t.false(stderr.includes(h.root), `${what}: no host path`);
  t.false(/\n\s+at /.test(stderr), `${what}: no stack`);
}

it('a full disk: the exit status survives, ps, wait and inspect agree, the user is told', async (t) => {
  const h = await tmpfsHarness(t, 24);
  const running = h.run(['run', ...net, '--name', 'c', 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.1; done; exit 7']);
  for (let i = 0; i < 300 && !(await h.run(['ps', '-q'])).stdout.trim(); i++) await new Promise((r) => setTimeout(r, 100));
  fill(h);
  // The container ends once the disk is full (a file under its merged dir is the signal).
  const [id] = h.containerIds();
  writeFileSync(join(h.root, 'containers', id, 'merged', 'go'), '');
  const r = await running;
  t.is(r.code, 7, 'run returns the real exit code');
  t.regex(r.stderr, /exited with 7, but its state could not be saved: no space left on device/, 'told on stderr');
  t.regex(await h.ok(t, ['ps', '-a', '--format', '{{.Status}}']), /^Exited \(7\)/);
  t.is((await h.ok(t, ['wait', 'c'], { timeoutMs: 45_000 })).trim(), '7');
  t.is((await h.ok(t, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}', 'c'])).trim(), 'exited 7 false');
  // Nothing new can start on the full disk: one line, 125, no empty container dir.
  const before = h.containerIds();
  const rm = await h.run(['run', '--rm', ...net, 'busybox', 'true']);
  t.is(rm.code, 125);
  oneLine(t, h, rm.stderr, 'run --rm on a full disk');
  t.regex(rm.stderr, /no space left on device/);
  t.deepEqual(h.containerIds(), before, 'no container dir left by the failed run --rm');
  // Once there is space again, the saved state reaches state.json.
  rmSync(join(h.root, 'fill'));
  t.regex(await h.ok(t, ['ps', '-a', '--format', '{{.Status}}']), /^Exited \(7\)/);
  const state = JSON.parse(readFileSync(join(h.root, 'containers', before[0], 'state.json'), 'utf8')) as { State: { ExitCode: number } };
  t.is(state.State.ExitCode, 7, 'state.json has the real exit code');
});

it('load onto a full disk: says why in one line, leaves no temporaries or orphan blobs', async (t) => {
  const h = await tmpfsHarness(t, 12);
  await h.ok(t, ['rmi', 'busybox']);
  fill(h);
  rmSync(join(h.root, 'fill'));
  // Leave room for about half of the (uncompressed, extracted then stored) image.
  execFileSync('fallocate', ['-l', `${12 * 1024 * 1024 - 3 * 1024 * 1024}`, join(h.root, 'fill')]);
  const r = await h.run(['load', '-i', join(fixtures, 'busybox-layered.tar')]);
  t.is(r.code, 125);
  oneLine(t, h, r.stderr, 'load on a full disk');
  t.regex(r.stderr, /no space left on device/);
  t.notRegex(r.stderr, /Premature close/);
  rmSync(join(h.root, 'fill'));
  t.deepEqual(temporaries(h.root), [], 'no temporaries');
  await h.ok(t, ['image', 'prune', '-f']);
  const blobs = readdirSync(join(h.root, 'image', 'blobs', 'sha256'));
  t.deepEqual(blobs, [], 'no orphan blob after prune');
  await h.ok(t, ['load', '-q', '-i', join(fixtures, 'busybox.tar')]);
  await assertStoreConsistent(t, h, 'after the full disk');
});

it('load killed at each phase: the next store command removes its temporaries', async (t) => {
  const h = await harness(t, []);
  const points = ['load-extracted', 'blob-written', 'load-blob-stored', 'layer-unpacking', 'load-layer-unpacked'];
  for (const point of points) {
    const r = await h.run(['load', '-q', '-i', join(fixtures, 'busybox-layered.tar')], { env: { SKIFF_FAULT: point } });
    t.is(r.code, 137, `load killed at ${point}`);
    t.true(temporaries(h.root).length > 0 || point === 'load-layer-unpacked' || point === 'load-blob-stored', `${point}: the kill left temporaries to clean`);
    await h.ok(t, ['load', '-q', '-i', join(fixtures, 'busybox.tar')]);
    t.deepEqual(temporaries(h.root), [], `${point}: swept by the next load`);
    await assertStoreConsistent(t, h, `load killed at ${point}`);
  }
});

it('a killed build leaves no intermediate container; image prune removes its <none> images', async (t) => {
  const h = await harness(t);
  const ctx = mkdtempSync(join(h.root, 'ctx-'));
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\nRUN echo three > /three\n');
  for (const [point, quiet] of [['build-run-exited', false], ['running', false], ['build-run-exited', true], ['commit-frozen', false]] as const) {
    const r = await h.run(['build', ...(quiet ? ['-q'] : []), '-t', 'x', ctx], { env: { SKIFF_FAULT: `${point}@cli` } });
    t.is(r.code, 137, `build killed at ${point}`);
    const ps = await h.ok(t, ['ps', '-a', '-q']);
    t.is(ps.trim(), '', `build killed at ${point}: no container after the next ps`);
    t.deepEqual(h.containerIds(), []);
    t.deepEqual(mountsUnder(h.root), [], `build killed at ${point}: no mount`);
  }
  await h.ok(t, ['image', 'prune', '-f']);
  const listed = (await h.ok(t, ['images'])).trim().split('\n').slice(1);
  t.deepEqual(listed.map((l) => l.split(/\s+/)[0]), ['busybox'], 'only busybox is left: no <none> image');
  await h.ok(t, ['build', '-q', '-t', 'x', ctx]);
  await assertStoreConsistent(t, h, 'after killed builds');
});

it('container prune removes stopped containers and record-less container dirs', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', ...net, '--name', 'stopped', 'busybox', 'true']);
  await h.ok(t, ['create', ...net, '--name', 'created', 'busybox', 'true']);
  await h.ok(t, ['run', '-d', ...net, '--name', 'up', 'busybox', 'sleep', '60']);
  const orphan = join(h.root, 'containers', 'f'.repeat(64));
  mkdirSync(orphan);
  const out = await h.ok(t, ['container', 'prune', '-f']);
  t.regex(out, /Deleted Containers:/);
  t.regex(out, /Total reclaimed space:/);
  t.false(existsSync(orphan));
  t.is((await h.ok(t, ['ps', '-a', '--format', '{{.Names}}'])).trim(), 'up');
  await h.ok(t, ['rm', '-f', 'up']);
});

/** Archives with one fault each: truncated at several points, bytes flipped, manifests broken. */
function mutants(src: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  const cuts = full ? 24 : 6;
  for (let i = 1; i <= cuts; i++) {
    const at = Math.floor((src.length * i) / (cuts + 1));
    out.push([`truncated at ${at}`, src.subarray(0, at)]);
  }
  const flips = full ? 40 : 8;
  for (let i = 0; i < flips; i++) {
    const b = Buffer.from(src);
    const at = randomInt(b.length);
    b[at] ^= 1 << randomInt(8);
    out.push([`bit flipped at ${at}`, b]);
  }
  return out;
}

/** A docker-archive with a chosen manifest.json, made from the fixture's files. */
function withManifest(h: Harness, manifest: string): string {
  const dir = mkdtempSync(join(h.root, 'arch-'));
  execFileSync('tar', ['-xf', join(fixtures, 'busybox.tar'), '-C', dir]);
  writeFileSync(join(dir, 'manifest.json'), manifest);
  const out = `${dir}.tar`;
  execFileSync('tar', ['-cf', out, '-C', dir, '.']);
  return out;
}

it('truncated, bit-flipped and malformed archives: refused in one line or loaded whole; the store stays consistent', async (t) => {
  const h = await harness(t, []);
  const src = readFileSync(join(fixtures, 'busybox.tar'));
  for (const [what, bytes] of mutants(src)) {
    const file = join(h.root, 'm.tar');
    writeFileSync(file, bytes);
    const r = await h.run(['load', '-q', '-i', file]);
    t.true(r.code === 0 || r.code === 125, `${what}: exit ${r.code}`);
    if (r.code !== 0) oneLine(t, h, r.stderr, what);
    t.deepEqual(temporaries(h.root), [], `${what}: no temporaries`);
    const images = await h.ok(t, ['images', '-q']);
    if (r.code === 0) {
      t.not(images.trim(), '', `${what}: loaded means listed`);
      // A flip the digests did not catch (tar padding or a tag) must still give a working image.
      const run = await h.run(['run', '--rm', ...net, images.trim().split('\n')[0], 'true']);
      t.true(run.code === 0 || run.code === 125 || run.code === 127, `${what}: runs or refuses cleanly`);
      await h.run(['rmi', '-f', ...images.trim().split('\n')]);
    }
  }
  const manifests: Array<[string, string, RegExp]> = [
    ['no Config', '[{"RepoTags":["x:1"],"Layers":[]}]', /manifest.json entry 0 has no Config/],
    ['Config not a string', '[{"Config":5,"Layers":[]}]', /has no Config/],
    ['no Layers', '[{"Config":"x.json"}]', /has no Layers list/],
    ['RepoTags not names', '[{"Config":"x.json","Layers":[],"RepoTags":[1]}]', /RepoTags is not a list of names/],
    ['not JSON', '[{', /manifest.json is not valid JSON/],
    ['empty list', '[]', /lists no images/],
  ];
  for (const [what, manifest, message] of manifests) {
    const r = await h.run(['load', '-i', withManifest(h, manifest)]);
    t.is(r.code, 125, what);
    t.regex(r.stderr, message, what);
    oneLine(t, h, r.stderr, what);
  }
  t.deepEqual(temporaries(h.root), []);
});

it('mutated Dockerfiles: no crash, no stack, no leftovers', async (t) => {
  const h = await harness(t);
  const ctx = mkdtempSync(join(h.root, 'ctx-'));
  writeFileSync(join(ctx, 'f'), 'x');
  const base = 'FROM busybox\nARG A=1\nENV B=$A\nWORKDIR /w\nCOPY f /w/f\nRUN cat /w/f\nUSER 0:0\nEXPOSE 80\nCMD ["true"]\n';
  const pieces = ['\\', '"', '[', ']', '$', '${', '\n', ' ', '--', '=', ':', '0', '4294967296', '\0', 'RUN', 'FROM', '#', '/'.repeat(300), 'a'.repeat(5000)];
  const n = full ? 60 : 12;
  for (let i = 0; i < n; i++) {
    let text = base;
    for (let k = 0; k < 1 + randomInt(3); k++) {
      const at = randomInt(text.length);
      text = randomInt(2) ? text.slice(0, at) + pieces[randomInt(pieces.length)] + text.slice(at) : text.slice(0, at) + text.slice(at + 1 + randomInt(5));
    }
    writeFileSync(join(ctx, 'Dockerfile'), text);
    const r = await h.run(['build', '-q', ctx], { timeoutMs: 60_000 });
    const what = `mutant ${i}: ${JSON.stringify(text).slice(0, 200)}`;
    t.true([0, 1, 125].includes(r.code), `${what}: exit ${r.code}: ${r.stderr}`);
    t.false(/\n\s+at /.test(r.stderr), `${what}: no stack`);
    t.false(r.stderr.includes(h.root + '/containers'), `${what}: no host path`);
    t.deepEqual(h.containerIds(), [], `${what}: no container left`);
  }
  t.deepEqual(mountsUnder(h.root), []);
});

it('pull and push killed mid-transfer: the next pull or push completes and the store is consistent', async (t) => {
  const h = await harness(t);
  const reg = await startRegistry(t);
  seed(reg, 'fault/busybox:1');
  const ref = `${reg.host}/fault/busybox:1`;
  const store = new ImageStore(h.root);
  for (const point of ['blob-written', 'layer-unpacking']) {
    const r = await h.run(['pull', '-q', ref], { env: { SKIFF_FAULT: point } });
    t.is(r.code, 137, `pull killed at ${point}`);
    await h.ok(t, ['pull', '-q', ref]);
    t.deepEqual(tempLeftovers(store), [], `pull killed at ${point}: temporaries swept by the next pull`);
    t.deepEqual(fsck(store), [], `pull killed at ${point}: store consistent`);
    await h.ok(t, ['rmi', ref]);
  }
  await h.ok(t, ['tag', 'busybox', `${reg.host}/fault/pushed:1`]);
  const p = await h.run(['push', `${reg.host}/fault/pushed:1`], { env: { SKIFF_FAULT: 'push-blob-sent' } });
  t.is(p.code, 137, 'push killed after its first blob');
  await h.ok(t, ['push', `${reg.host}/fault/pushed:1`]);
  await h.ok(t, ['rmi', `${reg.host}/fault/pushed:1`]);
  await h.ok(t, ['pull', '-q', `${reg.host}/fault/pushed:1`]);
  t.deepEqual(fsck(store), []);
  await assertStoreConsistent(t, h, 'after killed pull and push');
}, { 'docker-registry': 'docker-registry', skopeo: 'skopeo' });
