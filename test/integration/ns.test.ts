// `skiff ns` against /proc: each inode it prints is the one the kernel shows.
import { readlinkSync } from 'node:fs';
import { harness, it } from './_harness.js';

const inode = (link: string) => Number(/\[(\d+)\]$/.exec(readlinkSync(link))![1]);

it('skiff ns matches /proc/PID/ns and the host\'s; --userns-remap unshares the user namespace', async (t) => {
  const h = await harness(t);
  const id = (await h.ok(t, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
  const pid = Number((await h.ok(t, ['inspect', '-f', '{{.State.Pid}}', id])).trim());
  const rows = (await h.ok(t, ['ns', '--format', 'json', id])).trim().split('\n').map((l) => JSON.parse(l) as {
    type: string; inside: number; host: number; shared: boolean; nsenter: string;
  });
  t.deepEqual(rows.map((r) => r.type), ['pid', 'mnt', 'uts', 'ipc', 'net', 'user', 'cgroup']);
  for (const r of rows) {
    t.is(r.inside, inode(`/proc/${pid}/ns/${r.type}`), `${r.type} inside`);
    t.is(r.host, inode(`/proc/self/ns/${r.type}`), `${r.type} on the host`);
    t.is(r.shared, r.type === 'user', `${r.type}: only the user namespace is shared by default`);
    t.regex(r.nsenter, new RegExp(`^nsenter -t ${pid} -[pmuinUC]$`));
  }
  const tableOut = await h.ok(t, ['ns', id]);
  t.regex(tableOut, /^NAMESPACE\s+INSIDE\s+HOST\s+SHARED\s+ENTER WITH/);
  t.regex(tableOut, new RegExp(`^pid\\s+${inode(`/proc/${pid}/ns/pid`)}\\s+\\d+\\s+no\\s+nsenter -t ${pid} -p`, 'm'));
  const remapped = (await h.ok(t, ['run', '-d', '--network', 'none', '--userns-remap', 'busybox', 'sleep', '60'])).trim();
  const user = JSON.parse((await h.ok(t, ['ns', '--format', 'json', remapped])).split('\n').find((l) => l.includes('"user"'))!) as { shared: boolean };
  t.false(user.shared, 'with --userns-remap the user namespace is the container\'s own');
  const stopped = await h.run(['ns', 'nosuch']);
  t.is(stopped.code, 1);
  t.regex(stopped.stderr, /No such container: nosuch/);
  await h.ok(t, ['rm', '-f', id, remapped]);
});
