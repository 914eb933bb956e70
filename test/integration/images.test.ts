// Loading images (docker-archive and OCI layout) and running what was loaded.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import * as tar from 'tar-stream';
import { join } from 'node:path';
import { fixtures, harness, it } from './_harness.js';


it('load reads a docker-archive and an OCI layout tar; images lists them', async (t) => {
  const h = await harness(t, []);
  t.is(await h.ok(t, ['load', '-i', join(fixtures, 'busybox.tar')]), 'Loaded image: busybox:latest\n');
  const oci = await h.ok(t, ['load', '-i', join(fixtures, 'busybox-oci.tar')]);
  t.regex(oci, /^Loaded image ID: sha256:[0-9a-f]{64}\n$/);
  const images = await h.ok(t, ['images']);
  t.regex(images, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
  t.regex(images, /busybox\s+latest\s+[0-9a-f]{12}\s+.*\s+1\.98MB/);
  const id = oci.trim().split(': ')[1];
  t.is((await h.ok(t, ['run', '--rm', id.slice(7, 19), 'echo', 'from oci'])).trim(), 'from oci');
  // Unpacked layers live in a chattr +T directory, so that ext4 gives each
  // layer a block group of its own (ImageStore.makeLayersDir), where the
  // file system under the test's root has that flag at all.
  const probe = join(h.root, 'topdir-probe');
  mkdirSync(probe);
  if (spawnSync('chattr', ['+T', probe]).status === 0) {
    t.regex(execFileSync('lsattr', ['-d', join(h.root, 'image', 'layers')]).toString(), /^\S*T\S* /);
  }
});

it('layer whiteouts hide files and opaque dirs replace contents', async (t) => {
  const h = await harness(t, ['busybox-layered']);
  const out = await h.ok(t, ['run', '--rm', 'layered', 'sh', '-c', 'ls /etc/old.txt 2>&1; ls /opt/stuff; cat /new.txt']);
  t.regex(out, /No such file or directory/);
  t.true(out.includes('\nc\nlayer2\n'));
});

it('save writes a docker-archive that skopeo reads and load round-trips', async (t) => {
  const h = await harness(t, ['busybox', 'busybox-layered']);
  const out = join(h.root, 'saved.tar');
  await h.ok(t, ['save', '-o', out, 'layered', 'busybox']);
  const info = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${out}:layered:latest`]).toString());
  t.is(info.Layers.length, 2);
  const h2 = await harness(t, []);
  t.is(await h2.ok(t, ['load', '-i', out]), 'Loaded image: layered:latest\nLoaded image: busybox:latest\n');
  t.is((await h2.ok(t, ['run', '--rm', 'layered', 'cat', '/new.txt'])).trim(), 'layer2');
  t.is((await h.ok(t, ['inspect', '-f', '{{.Id}}', 'layered'])), (await h2.ok(t, ['inspect', '-f', '{{.Id}}', 'layered'])), 'same image ID after the round trip');
}, { skopeo: 'skopeo' });

it('tag, history, rmi of a used image is refused, rmi frees layers, prune removes dangling', async (t) => {
  const h = await harness(t, ['busybox', 'busybox-layered']);
  await h.ok(t, ['tag', 'busybox', 'ouruser/sinatra:v2']);
  t.regex(await h.ok(t, ['images']), /ouruser\/sinatra\s+v2\s+[0-9a-f]{12}/);
  const hist = await h.ok(t, ['history', 'layered']);
  t.regex(hist, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[0-9a-f]{12}\s+/);
  t.is(hist.trim().split('\n').length, 3);
  t.is(await h.ok(t, ['rmi', 'ouruser/sinatra:v2']), 'Untagged: ouruser/sinatra:v2\n', 'one of two names: only untagged');
  await h.ok(t, ['create', '--name', 'user', 'layered', 'true']);
  const refused = await h.run(['rmi', 'layered']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /container [0-9a-f]{12} \(user\) is using its referenced image/);
  const layers = join(h.root, 'image', 'layers');
  const before = readdirSync(layers).filter((f) => !f.endsWith('.json')).length;
  await h.ok(t, ['rm', 'user']);
  const removed = await h.ok(t, ['rmi', 'layered']);
  t.regex(removed, /^Untagged: layered:latest\nDeleted: sha256:/);
  const after = readdirSync(layers).filter((f) => !f.endsWith('.json')).length;
  t.is(after, before - 2, 'both layers of the removed image are gone from disk');
  t.is((await h.run(['rmi', 'nosuch'])).code, 1);
  // A dangling image: moving its only tag to another image leaves it nameless.
  await h.ok(t, ['load', '-i', join(fixtures, 'busybox-layered.tar')]);
  await h.ok(t, ['tag', 'busybox', 'layered:latest']);
  t.regex(await h.ok(t, ['images']), /<none>\s+<none>\s+7c39c70d13e5/);
  const pruned = await h.ok(t, ['image', 'prune', '-f']);
  t.regex(pruned, /^Deleted Images:\ndeleted: sha256:7c39c70d13e5/);
  t.regex(pruned, /Total reclaimed space: [1-9][0-9.]*[kM]?B\n$/);
  t.notRegex(await h.ok(t, ['images']), /<none>/);
  t.regex(await h.ok(t, ['images']), /busybox\s+latest/);
});

it('images that skopeo writes (oci-archive, docker-archive) load and run', async (t) => {
  const h = await harness(t, []);
  const oci = join(h.root, 'skopeo-oci.tar');
  const dockerArchive = join(h.root, 'skopeo-docker.tar');
  execFileSync('skopeo', ['copy', '-q', `docker-archive:${join(fixtures, 'busybox-layered.tar')}`, `oci-archive:${oci}:skopeo/layered:oci`]);
  execFileSync('skopeo', ['copy', '-q', `docker-archive:${join(fixtures, 'busybox-layered.tar')}`, `docker-archive:${dockerArchive}:skopeo/layered:docker`]);
  t.is(await h.ok(t, ['load', '-i', oci]), 'Loaded image: skopeo/layered:oci\n');
  t.is(await h.ok(t, ['load', '-i', dockerArchive]), 'Loaded image: skopeo/layered:docker\n');
  t.is((await h.ok(t, ['run', '--rm', 'skopeo/layered:oci', 'cat', '/new.txt'])).trim(), 'layer2');
  t.is((await h.ok(t, ['run', '--rm', 'skopeo/layered:docker', 'sh', '-c', 'ls /opt/stuff'])).trim(), 'c');
}, { skopeo: 'skopeo' });

/** A docker-archive whose only layer holds `entries` (built with tar-stream). */
async function archiveWith(dir: string, name: string, entries: Array<{ header: Parameters<tar.Pack['entry']>[0]; body?: string }>): Promise<string> {
  const layer: Buffer = await new Promise((resolve) => {
    const pack = tar.pack();
    const parts: Buffer[] = [];
    pack.on('data', (d) => parts.push(d as Buffer));
    pack.on('end', () => resolve(Buffer.concat(parts)));
    for (const e of entries) pack.entry(e.header, e.body ?? '');
    pack.finalize();
  });
  const diff = createHash('sha256').update(layer).digest('hex');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${diff}`] } }));
  const cfgName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const base = join(dir, `arch-${name}`);
  mkdirSync(join(base, diff), { recursive: true });
  writeFileSync(join(base, diff, 'layer.tar'), layer);
  writeFileSync(join(base, cfgName), config);
  writeFileSync(join(base, 'manifest.json'), JSON.stringify([{ Config: cfgName, RepoTags: [`${name}:latest`], Layers: [`${diff}/layer.tar`] }]));
  const out = join(dir, `${name}.tar`);
  execFileSync('tar', ['-cf', out, '-C', base, 'manifest.json', cfgName, `${diff}/layer.tar`]);
  return out;
}

it('hostile layers (../ escapes, writes through symlinks, hardlinks out) are refused and the host is untouched', async (t) => {
  const h = await harness(t, []);
  const canary = join(h.root, 'canary');
  writeFileSync(canary, 'original\n');
  const cases: Array<[string, Array<{ header: Parameters<tar.Pack['entry']>[0]; body?: string }>, RegExp]> = [
    ['dotdot', [{ header: { name: '../../../../../../..' + canary, type: 'file' }, body: 'pwned\n' }], /escapes the layer/],
    ['symlink', [{ header: { name: 'evil', type: 'symlink', linkname: h.root } }, { header: { name: 'evil/canary', type: 'file' }, body: 'pwned\n' }], /through the symlink/],
    ['hardlink', [{ header: { name: 'link', type: 'link', linkname: '../../../../../../..' + canary } }], /escapes the layer/],
  ];
  for (const [name, entries, message] of cases) {
    const r = await h.run(['load', '-i', await archiveWith(h.root, name, entries)]);
    t.is(r.code, 125, name);
    t.regex(r.stderr, message, name);
  }
  t.is(readFileSync(canary, 'utf8'), 'original\n', 'the canary on the host is untouched');
  t.is(await h.ok(t, ['images', '-q']), '', 'no half image is visible');
  t.deepEqual(readdirSync(join(h.root, 'image', 'layers')).filter((f) => !f.startsWith('.')), [], 'no layer was kept');
});

it('unpacking keeps modes, owners, setuid bits, hardlinks, symlinks, devices, fifos and xattrs', async (t) => {
  const h = await harness(t, []);
  const tarPath = await archiveWith(h.root, 'meta', [
    { header: { name: 'suid', type: 'file', mode: 0o4755, uid: 0, gid: 0 }, body: '#!/bin/sh\n' },
    { header: { name: 'owned', type: 'file', mode: 0o640, uid: 1000, gid: 1001, pax: { 'SCHILY.xattr.user.skiff': 'yes' } }, body: 'data\n' },
    { header: { name: 'hard', type: 'link', linkname: 'owned' } },
    { header: { name: 'sym', type: 'symlink', linkname: '/etc/passwd' } },
    { header: { name: 'dev/null2', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 } },
    { header: { name: 'fifo', type: 'fifo', mode: 0o600 } },
  ]);
  await h.ok(t, ['load', '-i', tarPath]);
  const layers = join(h.root, 'image', 'layers');
  const dir = join(layers, readdirSync(layers).find((f) => /^[0-9a-f]{64}$/.test(f))!);
  const st = (p: string) => lstatSync(join(dir, p));
  t.is(st('suid').mode & 0o7777, 0o4755, 'setuid survives the chown');
  t.deepEqual([st('owned').uid, st('owned').gid, st('owned').mode & 0o777], [1000, 1001, 0o640]);
  t.is(st('hard').ino, st('owned').ino, 'hardlink');
  t.is(readlinkSync(join(dir, 'sym')), '/etc/passwd');
  t.true(st('dev/null2').isCharacterDevice());
  t.is(st('dev/null2').rdev, 259, 'major 1, minor 3');
  t.true(st('fifo').isFIFO());
  t.is(execFileSync('getfattr', ['--only-values', '-n', 'user.skiff', join(dir, 'owned')]).toString(), 'yes');
}, { getfattr: 'attr' });

it('entries that come back to a path find it as the tar left it (small files and symlinks are created while later entries are read)', async (t) => {
  const h = await harness(t, []);
  const many = Array.from({ length: 100 }, (_, i) => ({ header: { name: `bulk/f${i}`, type: 'file' as const, mode: 0o644 }, body: `${i}\n` }));
  const tarPath = await archiveWith(h.root, 'revisit', [
    ...many,
    { header: { name: 'x', type: 'file', mode: 0o644 }, body: 'first\n' },
    { header: { name: 'x', type: 'file', mode: 0o600 }, body: 'second\n' },
    { header: { name: 'd', type: 'file' }, body: 'a file, then a directory\n' },
    { header: { name: 'd', type: 'directory', mode: 0o755 } },
    { header: { name: 'd/f', type: 'file' }, body: 'inside\n' },
    { header: { name: 's', type: 'symlink', linkname: 'x' } },
    { header: { name: 's', type: 'file' }, body: 'no longer a link\n' },
    { header: { name: 'gone', type: 'file' }, body: 'removed below\n' },
    { header: { name: '.wh.gone', type: 'file' } },
    { header: { name: 'hard', type: 'link', linkname: 'bulk/f99' } },
  ]);
  await h.ok(t, ['load', '-i', tarPath]);
  const layers = join(h.root, 'image', 'layers');
  const dir = join(layers, readdirSync(layers).find((f) => /^[0-9a-f]{64}$/.test(f))!);
  t.is(readdirSync(join(dir, 'bulk')).length, 100);
  t.is(readFileSync(join(dir, 'bulk', 'f42'), 'utf8'), '42\n');
  t.is(readFileSync(join(dir, 'x'), 'utf8'), 'second\n');
  t.is(lstatSync(join(dir, 'x')).mode & 0o777, 0o600);
  t.true(lstatSync(join(dir, 'd')).isDirectory());
  t.is(readFileSync(join(dir, 'd', 'f'), 'utf8'), 'inside\n');
  t.true(lstatSync(join(dir, 's')).isFile(), 's is a file now');
  t.is(readFileSync(join(dir, 's'), 'utf8'), 'no longer a link\n');
  t.true(lstatSync(join(dir, 'gone')).isCharacterDevice(), 'the whiteout replaced the file');
  t.is(lstatSync(join(dir, 'hard')).ino, lstatSync(join(dir, 'bulk', 'f99')).ino);
});
