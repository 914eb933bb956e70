// `skiff tour --yes` runs every lesson for real; each claim it prints is
// checked by the tour itself against what the commands printed.
import { harness, it, netLeftovers } from './_harness.js';

it('skiff tour --yes: every lesson runs and every claim holds; nothing is left behind', async (t) => {
  const h = await harness(t);
  const r = await h.run(['tour', '--yes'], { timeoutMs: 600_000 });
  t.is(r.code, 0, r.stdout.split('\n').filter((l) => l.includes('NOT TRUE')).join('\n') + r.stderr);
  for (const lesson of ['uts', 'pid', 'mnt', 'ipc', 'net', 'user', 'cgroup', 'overlay', 'pivot_root', 'capabilities', 'bridge']) {
    t.regex(r.stdout, new RegExp(`== \\d+/11 ${lesson}: `), `lesson ${lesson} ran`);
  }
  t.is((r.stdout.match(/✓/g) ?? []).length, 13, 'thirteen claims checked');
  t.notRegex(r.stdout, /NOT TRUE/);
  t.regex(r.stdout, /Every claim of the tour held on this machine\./);
  t.deepEqual(h.containerIds(), [], 'the tour removes its containers');
  await h.ok(t, ['network', 'prune', '-f']);
  t.deepEqual(netLeftovers(h.net), []);
});

it('skiff tour with an unknown lesson names the lessons; without the busybox image it says how to get it', async (t) => {
  const h = await harness(t);
  const bad = await h.run(['tour', '--yes', 'nosuch']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /no lesson "nosuch"; the lessons are: uts, pid, mnt/);
  const empty = await harness(t, []);
  const none = await empty.run(['tour', '--yes', 'uts']);
  t.is(none.code, 125);
  t.regex(none.stderr, /skiff load -i rootfs-fixtures\/out\/busybox.tar/);
});
