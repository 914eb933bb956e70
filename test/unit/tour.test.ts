// docs/tour.md is the tour's own text: regenerate it with `skiff tour --markdown > docs/tour.md`.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lessons } from '../../runtime/teach/lessons.js';
import { tourMarkdown } from '../../runtime/teach/tour.js';

const repo = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', '..');

test('docs/tour.md matches the lessons the tour runs', (t) => {
  t.is(readFileSync(join(repo, 'docs', 'tour.md'), 'utf8'), tourMarkdown());
});

test('the tour covers every lesson the issue names, each with a checked claim and an exercise', (t) => {
  const all = lessons({ port: 8080, cgroupV2: true });
  t.deepEqual(all.map((l) => l.name), ['uts', 'pid', 'mnt', 'ipc', 'net', 'user', 'cgroup', 'overlay', 'pivot_root', 'capabilities', 'bridge']);
  for (const l of all) {
    t.true(l.steps.some((s) => s.claim), `${l.name} checks a claim`);
    t.true(l.exercise.length > 20, `${l.name} ends with an exercise`);
  }
});
