// Memory per detached container: the Node monitor hands over to skiff-shim
// (static C, <1 MiB) also when ports are published, holding their sockets as
// the reservation while DNAT carries the traffic.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { harness, it, type Harness } from './_harness.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => c.end('GET / HTTP/1.0\r\n\r\n'));
    let body = '';
    c.on('data', (d) => (body += d));
    c.on('end', () => resolve(body));
    c.on('error', reject);
    c.setTimeout(10_000, () => c.destroy(new Error('timeout')));
  });
}

function monitorOf(h: Harness, id: string): { comm: string; rssKiB: number } {
  const st = JSON.parse(readFileSync(join(h.root, 'containers', id, 'state.json'), 'utf8')) as { Skiff: { MonitorPid: number } };
  const pid = st.Skiff.MonitorPid;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) };
}

const web = ['busybox', 'sh', '-c', 'mkdir -p /w && echo hello-from-shim > /w/index.html && exec httpd -f -p 80 -h /w'];

it('-d -p: skiff-shim holds the published port (under 2 MiB), the page answers, the port stays reserved, rm frees it', async (t) => {
  const h = await harness(t);
  const port = await freePort();
  const id = (await h.ok(t, ['run', '-d', '-p', `127.0.0.1:${port}:80`, ...web])).trim();
  let page = '';
  for (let i = 0; i < 50 && !page.includes('hello-from-shim'); i++) {
    page = await get(port).catch(() => '');
    if (!page.includes('hello-from-shim')) await new Promise((r) => setTimeout(r, 100));
  }
  t.regex(page, /hello-from-shim/, 'the page through 127.0.0.1');
  const mon = monitorOf(h, id);
  t.log(`monitor: ${mon.comm}, ${mon.rssKiB} KiB`);
  t.is(mon.comm, 'skiff-shim');
  t.true(mon.rssKiB < 2048, `${mon.rssKiB} KiB`);
  const second = await h.run(['run', '-d', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '5']);
  t.is(second.code, 125);
  t.regex(second.stderr, /port is already allocated/);
  await h.ok(t, ['rm', '-f', id]);
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
  t.pass('the port is free again after rm');
});

it('with the userland proxy on, the Node monitor stays: it relays the traffic', async (t) => {
  const h = await harness(t);
  const port = await freePort();
  const id = (await h.ok(t, ['run', '-d', '-p', `127.0.0.1:${port}:80`, ...web], { env: { SKIFF_USERLAND_PROXY: '1' } })).trim();
  t.is(monitorOf(h, id).comm, 'node');
  await h.ok(t, ['rm', '-f', id]);
});
