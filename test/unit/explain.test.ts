import test from 'ava';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { MS } from '../../native-bindings/libc.js';
import {
  explain, explainMode, explaining, formatStep, setExplainer, takeExplainFlag, writerExplainer, type Explainer, type Step,
} from '../../runtime/teach/explain.js';
import { capabilityNames, mountLine } from '../../runtime/teach/narrate.js';

const step: Step = { step: 'hostname', what: ['sethostname("teach")'], why: 'The UTS namespace.', see: 'nsenter -t 42 -u hostname', values: { hostname: 'teach' } };

test.serial('off: the step is never built', (t) => {
  setExplainer({ enabled: false, step: () => t.fail('written'), close() {} });
  let built = 0;
  explain(() => {
    built++;
    return step;
  });
  t.is(built, 0);
  t.false(explaining());
  setExplainer(undefined);
});

test.serial('on: each step reaches the explainer, arrays too', (t) => {
  const got: Step[] = [];
  const e: Explainer = { enabled: true, step: (s) => got.push(s), close() {} };
  setExplainer(e);
  explain(() => step);
  explain(() => [step, { ...step, step: 'pivot_root' }]);
  explain(() => undefined);
  t.deepEqual(got.map((s) => s.step), ['hostname', 'hostname', 'pivot_root']);
  setExplainer(undefined);
});

test('SKIFF_EXPLAIN values', (t) => {
  t.is(explainMode(undefined), undefined);
  t.is(explainMode('0'), undefined);
  t.is(explainMode(''), undefined);
  t.is(explainMode('1'), 'text');
  t.is(explainMode('json'), 'json');
});

test.serial('--explain is taken out of the flags and becomes SKIFF_EXPLAIN', (t) => {
  const before = process.env.SKIFF_EXPLAIN;
  t.deepEqual(takeExplainFlag(['-d', '--explain=json', 'busybox']), ['-d', 'busybox']);
  t.is(process.env.SKIFF_EXPLAIN, 'json');
  t.deepEqual(takeExplainFlag(['--explain', 'x']), ['x']);
  t.is(process.env.SKIFF_EXPLAIN, '1');
  if (before === undefined) delete process.env.SKIFF_EXPLAIN;
  else process.env.SKIFF_EXPLAIN = before;
  setExplainer(undefined);
});

test('text blocks: plain, or coloured for a terminal', (t) => {
  const plain = formatStep(step);
  t.is(plain, '▸ hostname\n  kernel: sethostname("teach")\n  why:    The UTS namespace.\n  see:    nsenter -t 42 -u hostname\n');
  t.true(formatStep(step, true).includes('\x1b['));
});

test('json: one object per line, written to the descriptor', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-explain-'));
  const file = join(dir, 'out');
  const fd = openSync(file, 'w');
  const e = writerExplainer('json', fd);
  e.step(step);
  e.step({ ...step, see: undefined });
  e.close();
  t.false(e.enabled);
  e.step(step); // after close: nothing, no error
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(lines.length, 2);
  t.deepEqual(lines[0], { step: 'hostname', what: ['sethostname("teach")'], values: { hostname: 'teach' }, why: 'The UTS namespace.', see: 'nsenter -t 42 -u hostname' });
  t.is(lines[1].see, null);
  try {
    closeSync(fd);
  } catch {
    // closed by e.close()
  }
  rmSync(dir, { recursive: true, force: true });
});

test('capabilities by name, mounts as their calls', (t) => {
  const { kept, dropped } = capabilityNames('5'); // bits 0 and 2
  t.deepEqual(kept, ['CHOWN', 'DAC_READ_SEARCH']);
  t.true(dropped.includes('SYS_ADMIN'));
  t.is(kept.length + dropped.length, 41);
  t.is(mountLine({ kind: 'fs', fstype: 'proc', source: 'proc', target: '/proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC }),
    'mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC)');
  t.is(mountLine({ kind: 'symlink', target: '/dev/fd', linkTo: '/proc/self/fd' }), 'symlink("/proc/self/fd", "/dev/fd")');
});
