// `skiff cp` between the host and a container, running and stopped, with
// Docker's rules for where a copy lands, its tar streams on stdin/stdout,
// ownership with and without -a, and its errors (exit 1, one line).
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, it, mountsUnder, runProcess, cli } from './_harness.js';

const NONE = ['--network', 'none'];

/** A host tree: file, dir/{a, sub/b, link -> a}. */
function hostTree(base: string): string {
  const dir = join(base, 'src');
  mkdirSync(join(dir, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'file'), 'f\n');
  writeFileSync(join(dir, 'dir', 'a'), 'a\n');
  writeFileSync(join(dir, 'dir', 'sub', 'b'), 'b\n');
  symlinkSync('a', join(dir, 'dir', 'link'));
  return dir;
}

it('cp into a running container: into a directory, to a new name, a directory, and a directory\'s contents (dir/.)', async (t) => {
  const h = await harness(t);
  const src = hostTree(h.root);
  await h.ok(t, ['run', '-d', ...NONE, '--name', 'c', 'busybox', 'sleep', '600']);
  const sh = async (cmd: string) => (await h.ok(t, ['exec', 'c', 'sh', '-c', cmd])).trim();
  await h.ok(t, ['cp', join(src, 'file'), 'c:/tmp']);
  await h.ok(t, ['cp', join(src, 'file'), 'c:/tmp/renamed']);
  await h.ok(t, ['cp', join(src, 'dir'), 'c:/tmp']);
  await h.ok(t, ['cp', join(src, 'dir'), 'c:/tmp/newdir']);
  await h.ok(t, ['cp', `${join(src, 'dir')}/.`, 'c:/etc']);
  t.is(await sh('cat /tmp/file /tmp/renamed'), 'f\nf');
  t.is(await sh('cd /tmp/dir && cat a sub/b && readlink link'), 'a\nb\na', 'the tree, its symlink as a link');
  t.is(await sh('cat /tmp/newdir/a'), 'a', 'a new name gets the directory\'s contents');
  t.is(await sh('cat /etc/a /etc/sub/b'), 'a\nb', 'dir/. copies the contents');
  t.is(await sh('stat -c %u:%g /tmp/file'), '0:0', 'without -a the copy is the container root\'s');
  // Overwriting a file, and what cannot be done: exit 1, one line.
  writeFileSync(join(src, 'file'), 'g\n');
  await h.ok(t, ['cp', join(src, 'file'), 'c:/tmp/renamed']);
  t.is(await sh('cat /tmp/renamed'), 'g');
  for (const [args, re] of [
    [[join(src, 'dir'), 'c:/tmp/renamed'], /cannot copy a directory to a file/],
    [[join(src, 'file'), 'c:/no/such/'], /destination directory \/no\/such does not exist|Could not find the file \/no/],
    [[join(src, 'nothing'), 'c:/tmp'], /no such file or directory/],
    [['c:/nothing', join(h.root, 'x')], /Could not find the file \/nothing in container c$/m],
    [[join(src, 'file'), 'nosuch:/tmp'], /No such container: nosuch/],
    [['a', 'b'], /must specify at least one container source/],
    [['c:/a', 'c:/b'], /copying between containers is not supported/],
  ] as const) {
    const r = await h.run(['cp', ...args]);
    t.is(r.code, 1, `cp ${args.join(' ')}: exit 1`);
    t.regex(r.stderr.trim(), re);
    t.is(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});

it('cp out of a container: a file, a directory, a symlink (as a link, or followed with -L), contents, and -a ownership', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '-d', ...NONE, '--name', 'c', 'busybox', 'sh', '-c', 'mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln -s a /d/link && chown -R 1000:1000 /d && sleep 600']);
  const out = join(h.root, 'out');
  mkdirSync(out);
  await h.ok(t, ['exec', 'c', 'true']); // the tree is made before PID 1 sleeps
  await h.ok(t, ['cp', 'c:/etc/hostname', out]);
  await h.ok(t, ['cp', 'c:/d', join(out, 'd1')]);
  await h.ok(t, ['cp', 'c:/d', out]);
  await h.ok(t, ['cp', 'c:/d/link', join(out, 'link')]);
  await h.ok(t, ['cp', '-L', 'c:/d/link', join(out, 'followed')]);
  mkdirSync(join(out, 'contents'));
  await h.ok(t, ['cp', 'c:/d/.', join(out, 'contents')]);
  await h.ok(t, ['cp', '-a', 'c:/d', join(out, 'kept')]);
  symlinkSync(join(out, 'kept'), join(out, 'to-kept'));
  await h.ok(t, ['cp', 'c:/etc/hostname', `${join(out, 'to-kept')}/`]); // a link to a directory is that directory
  t.regex(readFileSync(join(out, 'hostname'), 'utf8'), /^[0-9a-f]{12}\n$/);
  t.is(readFileSync(join(out, 'd1', 'sub', 'b'), 'utf8'), 'b\n');
  t.is(readFileSync(join(out, 'd', 'a'), 'utf8'), 'a\n');
  t.is(readlinkSync(join(out, 'link')), 'a', 'a symlink is copied as a link');
  t.true(lstatSync(join(out, 'followed')).isFile(), '-L copies what it points to');
  t.is(readFileSync(join(out, 'contents', 'a'), 'utf8'), 'a\n');
  t.is(statSync(join(out, 'd', 'a')).uid, 0, 'without -a the copy is the caller\'s');
  t.is(statSync(join(out, 'kept', 'a')).uid, 1000, '-a keeps the owner');
  t.true(statSync(join(out, 'kept', 'hostname')).isFile(), 'copied through the link');
});

it('cp with tar streams: CONTAINER:PATH - writes a tar, - CONTAINER:DIR extracts one', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '-d', ...NONE, '--name', 'c', 'busybox', 'sleep', '600']);
  const tar = await runProcess('sh', ['-c', `"${cli}" cp c:/etc/passwd - | tar -tvf -`], { env: h.env() });
  t.is(tar.code, 0, tar.stderr);
  t.regex(tar.stdout, /^-rw-r--r-- 0\/0 .* passwd$/m);
  const src = hostTree(h.root);
  const into = await runProcess('sh', ['-c', `tar -C "${src}" -cf - dir | "${cli}" cp - c:/tmp`], { env: h.env() });
  t.is(into.code, 0, into.stderr);
  t.is((await h.ok(t, ['exec', 'c', 'cat', '/tmp/dir/sub/b'])).trim(), 'b');
});

it('cp to and from a stopped container goes through its own upper layer and leaves no mount', async (t) => {
  const h = await harness(t);
  const src = hostTree(h.root);
  await h.ok(t, ['create', '--name', 'c', 'busybox', 'cat', '/in']);
  await h.ok(t, ['cp', join(src, 'file'), 'c:/in']); // /in does not exist: the file gets that name
  t.deepEqual(mountsUnder(h.root), [], 'the private mount is gone');
  t.is((await h.ok(t, ['start', '-a', 'c'])).trim(), 'f', 'the started container sees the copy');
  await h.ok(t, ['cp', 'c:/in', join(h.root, 'back')]);
  t.is(readFileSync(join(h.root, 'back'), 'utf8'), 'f\n');
  t.deepEqual(mountsUnder(h.root), []);
});
