// `skiff commit`: the seed's flow (change a container, commit it as
// ouruser/sinatra:v2, run the new image), on stopped and running containers,
// with -c changes, history, and a push/pull round trip through a real registry.
import { harness, it } from './_harness.js';
import { startRegistry } from './_registry.js';

it('commit of a stopped container: the change, whiteouts, -m/-a in history and inspect, -c applied', async (t) => {
  const h = await harness(t);
  await h.ok(t, ['run', '--name', 'dev', '--network', 'none', 'busybox', 'sh', '-c',
    'echo "gem sinatra" > /root/Gemfile; rm /bin/vi; mkdir -p /opt/app; echo v1 > /opt/app/version']);
  const id = (await h.ok(t, ['commit', '-m', 'Added json gem', '-a', 'Docker Newbee', '-c', 'CMD ["cat", "/root/Gemfile"]', '-c', 'ENV APP=sinatra', 'dev', 'ouruser/sinatra:v2'])).trim();
  t.regex(id, /^sha256:[0-9a-f]{64}$/);
  t.regex(await h.ok(t, ['images']), /ouruser\/sinatra\s+v2\s+/);
  t.is(await h.ok(t, ['run', '--rm', '--network', 'none', 'ouruser/sinatra:v2']), 'gem sinatra\n', 'the -c CMD runs and sees the committed file');
  const check = await h.run(['run', '--rm', '--network', 'none', 'ouruser/sinatra:v2', 'sh', '-c', 'ls /bin/vi; echo $APP; cat /opt/app/version']);
  t.regex(check.stderr, /\/bin\/vi: No such file or directory/, 'the deleted file is a whiteout in the new layer');
  t.is(check.stdout, 'sinatra\nv1\n');
  const history = await h.ok(t, ['history', 'ouruser/sinatra:v2']);
  t.regex(history.split('\n')[1], /^[0-9a-f]{12}\s+.*seconds? ago\s+sh -c echo .*Added json gem$/);
  t.is((await h.ok(t, ['inspect', '-f', '{{.Author}}|{{.Comment}}', 'ouruser/sinatra:v2'])).trim(), 'Docker Newbee|Added json gem');
  const bad = await h.run(['commit', '-c', 'RUN echo no', 'dev']);
  t.is(bad.code, 125);
  t.regex(bad.stderr, /RUN is not supported as a change/);
});

it('commit of a running container pauses it, and the container keeps running', async (t) => {
  const h = await harness(t);
  const cid = (await h.ok(t, ['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'echo live > /state; while true; do sleep 0.1; done'])).trim();
  await new Promise((r) => setTimeout(r, 300));
  await h.ok(t, ['commit', cid, 'snap:1']);
  t.is((await h.ok(t, ['inspect', '-f', '{{.State.Running}}', cid])).trim(), 'true');
  t.is((await h.ok(t, ['run', '--rm', '--network', 'none', 'snap:1', 'cat', '/state'])).trim(), 'live');
  await h.ok(t, ['commit', '--pause=false', cid, 'snap:2']);
});

it('a committed image pushed to a registry and pulled into a fresh root runs', async (t) => {
  const reg = await startRegistry(t);
  const h = await harness(t);
  await h.ok(t, ['run', '--name', 'dev', '--network', 'none', 'busybox', 'sh', '-c', 'echo pushed > /hello']);
  const name = `${reg.host}/ouruser/sinatra:v2`;
  await h.ok(t, ['commit', 'dev', name]);
  await h.ok(t, ['push', name]);
  const fresh = await harness(t, []);
  await fresh.ok(t, ['pull', name]);
  t.is((await fresh.ok(t, ['run', '--rm', '--network', 'none', name, 'cat', '/hello'])).trim(), 'pushed');
});
