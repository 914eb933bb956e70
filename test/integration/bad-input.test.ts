// Bad input: a clear one-line error, exit 125, and nothing left behind
// (no state dir, mount, cgroup or process).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupsFor, harness, mountsUnder, it } from './_harness.js';


const cases: Array<[string, string[], RegExp]> = [
  ['an unknown image', ['run', 'nosuchimage', 'true'], /Unable to find image 'nosuchimage:latest' locally\nskiff: .*nosuchimage|docker\.io/],
  ['-m 12zz', ['run', '-m', '12zz', 'busybox', 'true'], /invalid size: '12zz'/],
  ['an unknown flag', ['run', '--frobnicate', 'busybox', 'true'], /unknown flag: --frobnicate/],
  ['a missing command when the image has no Cmd', ['run', 'nocmd'], /no command specified/],
  ['a workdir that is a file', ['run', '-w', '/etc/passwd', 'busybox', 'true'], /not a directory/],
  ['a user missing from /etc/passwd', ['run', '-u', 'nosuchuser', 'busybox', 'true'], /unable to find user nosuchuser/],
  ['an invalid container name', ['run', '--name', 'bad/name', 'busybox', 'true'], /Invalid container name/],
];

for (const [what, args, message] of cases) {
  it(`${what}: exit 125, one line, nothing left`, async (t) => {
    const h = await harness(t, ['busybox', 'busybox-nocmd']);
    const r = await h.run(args);
    t.is(r.code, 125);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').filter((l) => l.startsWith('skiff: ')).length, 1, 'one error line');
    t.deepEqual(h.containerIds(), [], 'no container state left');
    t.deepEqual(mountsUnder(h.root), [], 'no mount left');
  });
}

it('a name already in use: exit 125 and the first container is untouched', async (t) => {
  const h = await harness(t);
  const first = (await h.ok(t, ['create', '--name', 'dup', 'busybox', 'true'])).trim();
  const r = await h.run(['run', '--name', 'dup', 'busybox', 'true']);
  t.is(r.code, 125);
  t.regex(r.stderr, /The container name "\/dup" is already in use/);
  t.deepEqual(h.containerIds(), [first]);
});

it('a corrupt tar given to load: exit 125, no image, no temp files', async (t) => {
  const h = await harness(t, []);
  const bad = join(h.root, 'bad.tar');
  writeFileSync(bad, Buffer.concat([Buffer.from('this is not a tar archive'), Buffer.alloc(2000, 7)]));
  const r = await h.run(['load', '-i', bad]);
  t.is(r.code, 125);
  t.regex(r.stderr, /^skiff: invalid archive/);
  t.is(await h.ok(t, ['images', '-q']), '');
  const missing = await h.run(['load', '-i', join(h.root, 'nope.tar')]);
  t.is(missing.code, 125);
  t.regex(missing.stderr, /no such file or directory/);
});

it('a failed start leaves no cgroup or process behind', async (t) => {
  const h = await harness(t);
  const r = await h.run(['run', '--name', 'x', '-m', '64m', 'busybox', 'nosuch']);
  t.is(r.code, 127);
  const ids = h.containerIds();
  t.deepEqual(ids, []);
  t.deepEqual(cgroupsFor(ids), []);
  t.deepEqual(mountsUnder(h.root), []);
});

it('inspect of an ambiguous container prefix says so, instead of looking for an image', async (t) => {
  const h = await harness(t);
  // Seventeen ids: at least two share their first hex digit.
  const ids: string[] = [];
  for (let i = 0; i < 17; i++) ids.push((await h.ok(t, ['create', 'busybox', 'true'])).trim());
  const digit = [...'0123456789abcdef'].find((d) => ids.filter((id) => id.startsWith(d)).length > 1)!;
  const r = await h.run(['inspect', digit]);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`^skiff: multiple containers found with prefix: ${digit}\\n$`));
  t.is(r.stdout, '[]\n');
  // A name that is no container is still an image's.
  t.regex(await h.ok(t, ['inspect', '-f', '{{.Id}}', 'busybox']), /^sha256:[0-9a-f]{64}\n$/);
  await h.ok(t, ['rm', ...ids]);
});
