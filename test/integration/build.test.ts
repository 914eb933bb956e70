// `skiff build`: the seed's Dockerfile flow with busybox, the layer cache,
// multi-stage, FROM scratch, .dockerignore, USER/--chown, whiteouts, and
// Dockerfiles that must fail cleanly.
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Harness, harness, it, mountsUnder } from './_harness.js';

function context(h: Harness, files: Record<string, string>): string {
  const dir = join(h.root, `ctx-${Math.random().toString(36).slice(2, 8)}`);
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

const steps = (out: string) => out.split('\n').filter((l) => l.startsWith('Step ')).length;
const count = (out: string, re: RegExp) => out.split('\n').filter((l) => re.test(l)).length;

async function noLeftovers(t: ExecutionContext, h: Harness): Promise<void> {
  t.is(await h.ok(t, ['ps', '-aq']), '', 'no build container is left');
  t.deepEqual(mountsUnder(h.root), [], 'no mount is left');
}

it('the seed\'s build flow: FROM, MAINTAINER, RUNs, ENV, WORKDIR, COPY, EXPOSE, CMD all take effect', async (t) => {
  const h = await harness(t);
  const ctx = context(h, {
    Dockerfile: [
      '# This is a comment',
      'FROM busybox:latest',
      'MAINTAINER Docker Newbee <newbee@docker.com>',
      'RUN mkdir -p /opt/app && echo "installed ruby" > /opt/app/ruby',
      'RUN echo "gem sinatra" >> /opt/app/Gemfile \\',
      '    && echo done > /opt/app/run-ok',
      'ENV APP_ENV=production GREETING="hello world"',
      'WORKDIR /opt/app',
      'COPY app.txt ./',
      'EXPOSE 4567',
      'CMD ["sh", "-c", "cat ruby Gemfile app.txt; echo $APP_ENV $GREETING; pwd"]',
    ].join('\n'),
    'app.txt': 'my app\n',
  });
  const out = await h.ok(t, ['build', '-t', 'ouruser/sinatra:v2', ctx]);
  t.regex(out, /^Step 1\/9 : FROM busybox:latest\n/);
  t.regex(out, /Step 3\/9 : RUN mkdir -p \/opt\/app/);
  t.regex(out, / ---> Running in [0-9a-f]{12}\n/);
  t.regex(out, /Successfully built [0-9a-f]{12}\nSuccessfully tagged ouruser\/sinatra:v2\n$/);
  t.is(await h.ok(t, ['run', '--rm', 'ouruser/sinatra:v2']), 'installed ruby\ngem sinatra\nmy app\nproduction hello world\n/opt/app\n');
  const cfg = JSON.parse(await h.ok(t, ['inspect', '-f', '{{json .Config}}', 'ouruser/sinatra:v2']));
  t.deepEqual(cfg.ExposedPorts, { '4567/tcp': {} });
  t.is((await h.ok(t, ['inspect', '-f', '{{.Author}}', 'ouruser/sinatra:v2'])).trim(), 'Docker Newbee <newbee@docker.com>');
  t.regex(await h.ok(t, ['history', 'ouruser/sinatra:v2']), /COPY app\.txt/);
  await noLeftovers(t, h);
});

it('a rebuild uses the cache for every step and runs nothing; a changed COPY source re-runs from there on', async (t) => {
  const h = await harness(t);
  const ctx = context(h, {
    Dockerfile: 'FROM busybox\nRUN echo one | tee /one\nCOPY data.txt /data.txt\nRUN cat /data.txt > /copy\nCMD ["cat", "/copy"]\n',
    'data.txt': 'v1\n',
  });
  const first = await h.ok(t, ['build', '-t', 'cached', ctx]);
  t.is(count(first, /Running in/), 2);
  t.regex(first, /Running in \w+\none\n/, 'RUN output is streamed');
  t.notRegex(await h.ok(t, ['images']), /<none>/, 'intermediate images are hidden');
  t.regex(await h.ok(t, ['images', '-a']), /<none>\s+<none>/, 'and shown with -a');
  const again = await h.ok(t, ['build', '-t', 'cached', ctx]);
  t.is(count(again, /Running in/), 0, 'no RUN executed on the rebuild');
  t.is(count(again, /---> Using cache/), steps(again) - 1, 'every step after FROM hit the cache');
  t.is(again.match(/Successfully built (\w+)/)![1], first.match(/Successfully built (\w+)/)![1], 'same image ID');
  writeFileSync(join(ctx, 'data.txt'), 'v2\n');
  const changed = await h.ok(t, ['build', '-t', 'cached', ctx]);
  t.is(count(changed, /---> Using cache/), 1, 'only the RUN before the COPY is cached');
  t.is(count(changed, /Running in/), 1);
  t.is(await h.ok(t, ['run', '--rm', 'cached']), 'v2\n');
  const noCache = await h.ok(t, ['build', '--no-cache', '-t', 'cached', ctx]);
  t.is(count(noCache, /Using cache/), 0);
  const quiet = await h.ok(t, ['build', '-q', '--no-cache', '--build-arg', 'UNUSED=1', ctx]);
  t.regex(quiet, /^sha256:[0-9a-f]{64}\n$/, '-q prints only the image ID, not even RUN output');
  await noLeftovers(t, h);
});

it('multi-stage COPY --from, FROM scratch with a static binary, .dockerignore, USER and --chown', async (t) => {
  const h = await harness(t);
  const ctx = context(h, {
    Dockerfile: [
      'FROM busybox AS builder',
      'RUN echo built > /artifact',
      'FROM busybox',
      'COPY --from=builder /artifact /final/artifact',
      'COPY --chown=app:app owned.txt /home/app/owned.txt',
      'COPY . /ctx/',
      'USER app',
      'CMD ["sh", "-c", "cat /final/artifact; stat -c %U:%G /home/app/owned.txt; id -un; ls /ctx"]',
    ].join('\n'),
    'owned.txt': 'x\n',
    'keep.txt': 'k\n',
    'secret.key': 'do not copy\n',
    '.dockerignore': 'secret.key\n',
  });
  await h.ok(t, ['build', '-t', 'multi', ctx]);
  t.is(await h.ok(t, ['run', '--rm', 'multi']), 'built\napp:app\napp\nDockerfile\nkeep.txt\nowned.txt\n');
  // FROM scratch with a static binary.
  const sctx = context(h, { 'hello.c': '#include <stdio.h>\nint main(void){puts("hello from scratch");return 0;}\n', Dockerfile: 'FROM scratch\nCOPY hello /hello\nCMD ["/hello"]\n' });
  execFileSync('cc', ['-static', '-o', join(sctx, 'hello'), join(sctx, 'hello.c')]);
  chmodSync(join(sctx, 'hello'), 0o755);
  await h.ok(t, ['build', '-t', 'scratchy', sctx]);
  t.is(await h.ok(t, ['run', '--rm', 'scratchy']), 'hello from scratch\n');
  t.is((await h.ok(t, ['history', '-q', 'scratchy'])).trim().split('\n').length, 2);
  await noLeftovers(t, h);
});

it('a RUN that deletes files leaves whiteouts; a replaced directory is opaque', async (t) => {
  const h = await harness(t, ['busybox-layered']);
  const ctx = context(h, {
    Dockerfile: 'FROM layered\nRUN rm /bin/vi\nRUN rm -rf /opt/stuff && mkdir /opt/stuff && echo fresh > /opt/stuff/new\nCMD ["sh", "-c", "ls /bin/vi 2>&1; ls /opt/stuff"]\n',
  });
  await h.ok(t, ['build', '-t', 'white', ctx]);
  t.is(await h.ok(t, ['run', '--rm', 'white']), 'ls: /bin/vi: No such file or directory\nnew\n');
});

it('bad Dockerfiles fail with the line, a non-zero exit, no tag, and nothing left', async (t) => {
  const h = await harness(t);
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['unknown instruction', { Dockerfile: 'FORM busybox\nRUN true\n' }, /Dockerfile:1: unknown instruction: FORM/i],
    ['missing FROM', { Dockerfile: 'RUN true\n' }, /Dockerfile:1: .*(FROM|build stage)/i],
    ['COPY from outside the context', { Dockerfile: 'FROM busybox\nCOPY ../outside /x\n' }, /Dockerfile:2: COPY failed: forbidden path outside the build context: \.\.\/outside/],
    ['a failing RUN', { Dockerfile: 'FROM busybox\nRUN echo before\nRUN exit 3\n' }, /Dockerfile:3: The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/],
  ];
  for (const [what, files, message] of cases) {
    const r = await h.run(['build', '-t', 'bad:1', context(h, files)]);
    t.not(r.code, 0, what);
    t.regex(r.stderr, message, what);
  }
  t.notRegex(await h.ok(t, ['images']), /^bad\s/m, 'no tag was written');
  await noLeftovers(t, h);
});

it('an image of 127 layers (Docker\'s limit) runs, also with --userns-remap, and COPY --from reads it', async (t) => {
  const h = await harness(t);
  // Their paths would overflow the page of mount data the kernel takes (~40 layers).
  const lines = ['FROM busybox', ...Array.from({ length: 126 }, (_, i) => `COPY f${i} /d/f${i}`), 'CMD ["sh", "-c", "ls /d | wc -l; cat /d/f0 /d/f125"]'];
  const files = Object.fromEntries(Array.from({ length: 126 }, (_, i) => [`f${i}`, `layer ${i + 2}\n`]));
  await h.ok(t, ['build', '-q', '-t', 'deep', context(h, { Dockerfile: lines.join('\n'), ...files })], { timeoutMs: 120_000 });
  t.is((await h.ok(t, ['image', 'inspect', '-f', '{{len .RootFS.Layers}}', 'deep'])).trim(), '127');
  const expected = '126\nlayer 2\nlayer 127';
  t.is((await h.ok(t, ['run', '--rm', '--network', 'none', 'deep'])).trim(), expected);
  t.is((await h.ok(t, ['run', '--rm', '--network', 'none', '--userns-remap', 'deep'])).trim(), expected);
  const copy = context(h, { Dockerfile: 'FROM busybox\nCOPY --from=deep /d/f125 /top\n' });
  await h.ok(t, ['build', '-q', '-t', 'reader', copy]);
  t.is((await h.ok(t, ['run', '--rm', '--network', 'none', 'reader', 'cat', '/top'])).trim(), 'layer 127');
  await noLeftovers(t, h);
});

it('more than 127 layers is refused naming the line', async (t) => {
  const h = await harness(t);
  const lines = ['FROM busybox', ...Array.from({ length: 127 }, (_, i) => `COPY f /f${i}`)];
  const r = await h.run(['build', '-t', 'deep', context(h, { Dockerfile: lines.join('\n'), f: 'x' })], { timeoutMs: 120_000 });
  t.not(r.code, 0);
  t.regex(r.stderr, /Dockerfile:128: max depth exceeded/);
  t.notRegex(await h.ok(t, ['images']), /^deep\s/m);
});
