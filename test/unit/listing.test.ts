// The list commands' output layer (--format, tables, filters), without containers:
// rows and records here are plain objects shaped like the real ones.
import test from 'ava';
import { commandLine, ellipsis, psRow, selectContainers } from '../../runtime/cli/container-list.js';
import { globMatch, matchAny, matchLabels, parseFilters, portSet } from '../../runtime/cli/filters.js';
import { renderListing, type ListingSpec } from '../../runtime/cli/listing.js';
import { goTime } from '../../runtime/cli/humanize.js';
import { tabwrite } from '../../runtime/cli/table.js';
import { goQuote } from '../../runtime/cli/template/index.js';
import type { ContainerRecord } from '../../runtime/container/model.js';
import type { ImageStore } from '../../runtime/image/store.js';
import { SkiffError } from '../../runtime/util/errors.js';
import { filterPs } from '../../runtime/container/top.js';
import { netBytes, statsBetween, systemCpuNs } from '../../runtime/container/stats.js';
import { bytesSize } from '../../runtime/cli/commands/stats.js';

const SPEC: ListingSpec = { table: '{{.ID}}\t{{.Name}}', headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER' } };
const ROWS = [{ ID: 'abc', Name: 'bridge', Driver: 'bridge' }, { ID: 'def', Name: 'a-much-longer-name', Driver: 'null' }];

test('no --format (or "table") is the default table: header, columns at least 10 wide plus 3 spaces', (t) => {
  const expected = 'NETWORK ID   NAME\nabc          bridge\ndef          a-much-longer-name\n';
  t.is(renderListing(ROWS, SPEC), expected);
  t.is(renderListing(ROWS, SPEC, { format: 'table' }), expected);
  t.is(renderListing([], SPEC), 'NETWORK ID   NAME\n', 'a header even with no rows, as Docker');
});

test('"table TEMPLATE": a header from the same template, then aligned rows; \\t written as two chars works', (t) => {
  t.is(renderListing(ROWS, SPEC, { format: 'table {{.Name}}\\t{{.Driver}}' }),
    'NAME                 DRIVER\nbridge               bridge\na-much-longer-name   null\n');
  // Functions in a header print the column name (Docker's header functions); text is kept.
  t.is(renderListing(ROWS, SPEC, { format: 'table {{upper .Name}}:{{.ID}}' }), 'NAME:NETWORK ID\nBRIDGE:abc\nA-MUCH-LONGER-NAME:def\n');
  t.is(renderListing(ROWS, SPEC, { format: 'table {{.Nope}}\t{{.ID}}' }).split('\n')[0], '             NETWORK ID', 'no header: empty');
});

test('"json": one object per row, keys sorted, methods left out', (t) => {
  const rows = [{ Name: 'n', ID: 'i', Label: (k: string) => k }];
  t.is(renderListing(rows, SPEC, { format: 'json' }), '{"ID":"i","Name":"n"}\n');
  t.is(renderListing(rows, SPEC, { format: ' json ' }), '{"ID":"i","Name":"n"}\n');
});

test('a plain template prints once per row, no header; -q prints IDs and wins over --format', (t) => {
  t.is(renderListing(ROWS, SPEC, { format: '{{.ID}}:{{.Name}}' }), 'abc:bridge\ndef:a-much-longer-name\n');
  t.is(renderListing(ROWS, SPEC, { format: '{{.ID}}\\n{{.Driver}}' }), 'abc\nbridge\ndef\nnull\n');
  t.is(renderListing(ROWS, SPEC, { quiet: true, format: '{{.Name}}' }), 'abc\ndef\n');
});

test('a method field takes arguments: {{.Label "key"}}', (t) => {
  const rows = [{ ID: 'a', Label: (k: string) => ({ app: 'web' } as Record<string, string>)[k] ?? '' }];
  t.is(renderListing(rows, SPEC, { format: '{{.Label "app"}}|{{.Label "none"}}|{{"app" | .Label}}' }), 'web||web\n');
});

test('a bad template is exit 125 with Docker\'s wording', (t) => {
  const err = t.throws(() => renderListing(ROWS, SPEC, { format: '{{.ID' }), { instanceOf: SkiffError });
  t.is(err.message, 'template parsing error: template: :1: unclosed action');
  t.is(err.exitCode, 125);
});

test('tabwrite: Go tabwriter blocks; the text after the last tab is not padded', (t) => {
  t.is(tabwrite('a\tb\tc\nlonger-than-ten\tx\ty\n'), 'a                 b         c\nlonger-than-ten   x         y\n');
  // A line with fewer cells ends the column block above it.
  t.is(tabwrite('aaaaaaaaaaaaaa\tb\nno tabs here\nc\td\n'), 'aaaaaaaaaaaaaa   b\nno tabs here\nc         d\n');
  t.is(tabwrite('…\tx\n'), '…         x\n', 'width counts characters');
});

test('ps COMMAND: args with spaces single-quoted, cut to 20 with …, Go-quoted (moby/docker cli)', (t) => {
  const cmd = commandLine({ Path: 'sh', Args: ['-c', 'echo started; sleep 300'] });
  t.is(cmd, "sh -c 'echo started; sleep 300'");
  t.is(goQuote(ellipsis(cmd, 20)), '"sh -c \'echo started…"');
  t.is(commandLine({ Path: 'top', Args: [] }), 'top');
  t.is(goQuote('say "hi"\n\t\x01'), '"say \\"hi\\"\\n\\t\\x01"');
});

test('--filter parsing: key=value, repeated keys collect, unknown keys and no "=" are errors', (t) => {
  const f = parseFilters(['name=a', 'Name=b', 'label=x=y'], ['name', 'label']);
  t.deepEqual([...f], [['name', ['a', 'b']], ['label', ['x=y']]]);
  const bad = t.throws(() => parseFilters(['colour=red'], ['name']), { instanceOf: SkiffError });
  t.is(bad.message, "invalid filter 'colour'");
  t.is(bad.exitCode, 1);
  const format = t.throws(() => parseFilters(['name'], ['name']), { instanceOf: SkiffError });
  t.regex(format.message, /bad format of filter \(expected name=value\)/);
  t.is(format.exitCode, 125);
});

test('filter matching: values OR (regexp or equal), labels AND, globs like Go path.Match, port sets', (t) => {
  t.true(matchAny(undefined, 'x'));
  t.true(matchAny(['web', 'db'], '/db'));
  t.true(matchAny(['^/we'], '/web'));
  t.false(matchAny(['^web$'], '/web'));
  t.true(matchLabels(['app', 'tier=front'], { app: 'x', tier: 'front' }));
  t.false(matchLabels(['app', 'tier=back'], { app: 'x', tier: 'front' }));
  t.false(matchLabels(['app'], {}));
  t.true(globMatch('busy*', 'busybox'));
  t.true(globMatch('busybox:l?test', 'busybox:latest'));
  t.false(globMatch('*', 'library/busybox'), '* stops at /');
  t.true(globMatch('*/busybox', 'library/busybox'));
  t.true(globMatch('[a-c]*', 'busybox'));
  t.false(globMatch('[^a-c]*', 'busybox'));
  t.deepEqual(portSet('80', 'publish'), ['80/tcp']);
  t.deepEqual(portSet('53/udp', 'publish'), ['53/udp']);
  t.deepEqual(portSet('8000-8002/tcp', 'expose'), ['8000/tcp', '8001/tcp', '8002/tcp']);
  t.throws(() => portSet('http', 'publish'), { message: "invalid filter 'publish=http'" });
});

// ---- container selection, on records shaped like state.json

let seq = 0;
function rec(name: string, o: { running?: boolean; exit?: number; status?: 'created' | 'exited'; labels?: Record<string, string>; image?: string; expose?: string[]; bind?: string[]; net?: string } = {}): ContainerRecord {
  seq++;
  const running = o.running ?? false;
  return {
    Id: `${String(seq).padStart(2, '0')}${'f'.repeat(62)}`, Name: `/${name}`, Created: `2026-01-01T00:00:${String(seq).padStart(2, '0')}Z`,
    Path: 'sh', Args: ['-c', 'true'], Image: o.image ?? 'sha256:img', LogPath: '/nonexistent/x.log',
    State: { Status: running ? 'running' : (o.status ?? 'exited'), Running: running, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: o.exit ?? 0, Error: '', StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '2026-01-01T00:01:00Z' },
    Config: { Image: 'busybox', Labels: o.labels ?? {}, ExposedPorts: Object.fromEntries((o.expose ?? []).map((p) => [p, {}])) } as ContainerRecord['Config'],
    HostConfig: { NetworkMode: o.net ?? 'none', PortBindings: Object.fromEntries((o.bind ?? []).map((p) => [p, [{ HostIp: '', HostPort: '' }]])) } as ContainerRecord['HostConfig'],
    GraphDriver: { Name: 'overlay', Data: { LowerDir: '', UpperDir: '/nonexistent', MergedDir: '', WorkDir: '' } },
    NetworkSettings: { IPAddress: '', Gateway: '', MacAddress: '', IPPrefixLen: 0, Ports: {}, Networks: {} },
    Mounts: [],
  } as unknown as ContainerRecord;
}

const fakeImages = (known: Record<string, string[]>) => ({
  lookup: (ref: string) => (known[ref] ? { id: ref, config: { rootfs: { diff_ids: known[ref] } } } : undefined),
  get: (id: string) => {
    if (!known[id]) throw new Error('no such image');
    return { id, config: { rootfs: { diff_ids: known[id] } } };
  },
  size: () => 0,
}) as unknown as ImageStore;

const names = (cs: ContainerRecord[]) => cs.map((c) => c.Name.slice(1));

test('selectContainers: running only by default, newest first; -a; -n N includes every state', (t) => {
  const recs = [rec('old', { running: true }), rec('stopped'), rec('new', { running: true }), rec('newest', { status: 'created' })];
  const sel = (s: Parameters<typeof selectContainers>[1]) => names(selectContainers(recs, s, fakeImages({})));
  t.deepEqual(sel({}), ['new', 'old']);
  t.deepEqual(sel({ all: true }), ['newest', 'new', 'stopped', 'old']);
  t.deepEqual(sel({ last: 2 }), ['newest', 'new']);
  t.deepEqual(sel({ last: -1 }), ['new', 'old']);
});

test('selectContainers: same key ORs, different keys AND; status implies -a; exited needs -a', (t) => {
  const recs = [rec('web', { running: true, labels: { app: 'web' } }), rec('job0', { exit: 0, labels: { app: 'job' } }), rec('job3', { exit: 3 }), rec('fresh', { status: 'created' })];
  const sel = (filters: string[], all = false) => names(selectContainers(recs, {
    all, filters: parseFilters(filters, ['name', 'id', 'status', 'exited', 'label', 'before', 'since']),
  }, fakeImages({})));
  t.deepEqual(sel(['status=exited']), ['job3', 'job0']);
  t.deepEqual(sel(['status=exited', 'status=created']), ['fresh', 'job3', 'job0']);
  t.deepEqual(sel(['status=exited', 'name=job0']), ['job0']);
  t.deepEqual(sel(['exited=3']), [], 'exited looks only at what -a shows');
  t.deepEqual(sel(['exited=3', 'exited=0'], true), ['job3', 'job0']);
  t.deepEqual(sel(['name=job', 'name=web'], true), ['job3', 'job0', 'web']);
  t.deepEqual(sel(['label=app'], true), ['job0', 'web']);
  t.deepEqual(sel(['label=app', 'label=app=web'], true), ['web'], 'labels AND');
  t.deepEqual(sel([`id=${recs[2].Id.slice(0, 5)}`], true), ['job3']);
  t.deepEqual(sel(['before=job3'], true), ['job0', 'web']);
  t.deepEqual(sel(['since=job0'], true), ['fresh', 'job3']);
  t.throws(() => sel(['status=sleeping']), { message: "invalid filter 'status=sleeping'" });
  t.throws(() => sel(['exited=x'], true), { message: 'strconv.Atoi: parsing "x": invalid syntax' });
  t.throws(() => sel(['before=nope'], true), { message: 'No such container: nope' });
});

test('selectContainers: ancestor (the image or one built on its layers), network, publish, expose', (t) => {
  const recs = [
    rec('base', { image: 'sha256:base' }), rec('child', { image: 'sha256:child', net: 'bridge' }), rec('other', { image: 'sha256:other' }),
    rec('pub', { bind: ['80/tcp'], expose: ['80/tcp', '443/tcp'] }),
  ];
  const images = fakeImages({ busybox: ['L1'], 'sha256:base': ['L1'], 'sha256:child': ['L1', 'L2'], 'sha256:other': ['X'] });
  const sel = (filters: string[]) => names(selectContainers(recs, {
    all: true, filters: parseFilters(filters, ['ancestor', 'network', 'publish', 'expose']),
  }, images));
  t.deepEqual(sel(['ancestor=busybox']), ['child', 'base']);
  t.deepEqual(sel(['ancestor=nothing-like-it']), []);
  t.deepEqual(sel(['network=bridge']), ['child']);
  t.deepEqual(sel(['publish=80']), ['pub']);
  t.deepEqual(sel(['publish=443']), []);
  t.deepEqual(sel(['expose=443/tcp']), ['pub']);
  t.deepEqual(sel(['expose=400-500']), ['pub']);
});

test('psRow: the fields docker ps templates use', (t) => {
  const c = rec('web', { labels: { b: '2', a: '1' } });
  const row = psRow(c, { images: fakeImages({}) });
  t.is(row.Names, 'web');
  t.is(row.Command, '"sh -c true"');
  t.is(row.Labels, 'a=1,b=2');
  t.is((row.Label as (k: string) => string)('b'), '2');
  t.is(row.State, 'exited');
  t.is(row.Networks, 'none');
  t.regex(String(row.CreatedAt), /^2026-01-01 00:00:\d\d \+0000 UTC$/);
  t.is(row.Size, '0B');
});

test('goTime prints Go\'s time.Time.String() in UTC, for ISO strings and Dates alike', (t) => {
  for (const iso of ['2026-12-01T15:03:49.123Z', '0001-01-01T00:00:00Z', '1999-02-03T04:05:06Z', '2026-12-02T05:45:05+02:00']) {
    const want = `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
    t.is(goTime(iso), want, iso);
    t.is(goTime(new Date(iso)), want, iso);
  }
  t.is(goTime('2026-12-01T15:03:49Z'), '2026-12-01 15:03:49 +0000 UTC');
  t.is(goTime('not a time'), 'not a time');
});

test('top keeps the ps lines of the container\'s pids, CMD with its spaces, and thread lines under a kept process', (t) => {
  const ps = [
    'UID          PID    PPID  C STIME TTY          TIME CMD',
    'root           1       0  0 09:00 ?        00:00:01 /sbin/init splash',
    'root         100       1  0 09:01 ?        00:00:00 sleep 600',
    'root         101     100  0 09:01 ?        00:00:00 sh -c echo a  b',
    '',
  ].join('\n');
  t.deepEqual(filterPs(ps, new Set([100, 101])), {
    Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    Processes: [['root', '100', '1', '0', '09:01', '?', '00:00:00', 'sleep 600'], ['root', '101', '100', '0', '09:01', '?', '00:00:00', 'sh -c echo a b']],
  });
  const threads = 'PID TID CMD\n7 - app\n- 7 -\n8 - other\n- 8 -\n';
  t.deepEqual(filterPs(threads, new Set([7])).Processes, [['7', '-', 'app'], ['-', '7', '-']]);
  t.throws(() => filterPs('USER CMD\nroot x\n', new Set()), { message: /Couldn't find PID field/ });
});

test('stats: Docker\'s CPU % (share of the machine\'s time times its CPUs), memory against the machine without a limit, binary sizes', (t) => {
  const s = (cpuNs: number, systemNs: number, memory?: { usage: number; limit?: number }) => ({ cpuNs, systemNs, memory, pids: 2, net: { rx: 1, tx: 2 }, block: { read: 0, write: 0 } });
  // Half a CPU of 2 over one second: the machine spent 2e9 ns, the container 0.5e9.
  const st = statsBetween(s(1e9, 10e9, { usage: 32 * 2 ** 20, limit: 64 * 2 ** 20 }), s(1.5e9, 12e9, { usage: 32 * 2 ** 20, limit: 64 * 2 ** 20 }), 2, 2 ** 30);
  t.is(st.cpuPercent, 50);
  t.is(st.memPercent, 50);
  t.is(statsBetween(undefined, s(1e9, 10e9), 2, 2 ** 30).cpuPercent, 0, 'one sample: 0%');
  t.is(statsBetween(undefined, s(1e9, 10e9, { usage: 2 ** 20 }), 2, 2 ** 30).memLimit, 2 ** 30, 'no limit: the machine');
  t.is(systemCpuNs('cpu  10 0 5 85 0 0 0 0 3 0\ncpu0 1 2 3\n'), 100 * 1e7);
  t.deepEqual(netBytes('Inter-|\n face |bytes\n    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 1500 10 0 0 0 0 0 0 700 5 0 0 0 0 0 0\n'), { rx: 1500, tx: 700 });
  t.is(bytesSize(1536 * 1024), '1.5MiB');
  t.is(bytesSize(8191 * 2 ** 20), '7.999GiB');
  t.is(bytesSize(512), '512B');
});
