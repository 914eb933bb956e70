// --explain: skiff narrates each kernel step as it takes it, for someone who
// knows what a process is but not what a namespace is. One block per step on
// stderr (the container's stdout stays clean): what the kernel was asked,
// with the real values, why, and a host command to see it for yourself.
// --explain=json prints one JSON object per line instead, for tools.
//
// Off by default, and then free: callers pass a closure that builds the step,
// which is never called unless narration is on (see explain()).
//
//   SKIFF_EXPLAIN=1|json   on (the CLI's --explain sets it; the detached
//                          monitor inherits it)
//   SKIFF_EXPLAIN_FD=N     where to write (default 2); the monitor gets the
//                          launcher's stderr there
import { closeSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

export interface Step {
  /** A short name: layers, overlay, cgroup, clone, idmap, network, mounts, ... */
  step: string;
  /** What the kernel was asked (syscalls or files written), with real values. */
  what: string[];
  /** Why, in plain words. */
  why: string;
  /** A host command that shows the result, with the real pid, path or name. */
  see?: string;
  /** The same values as data, for --explain=json (and the accuracy tests). */
  values?: Record<string, unknown>;
}

export interface Explainer {
  readonly enabled: boolean;
  step(s: Step): void;
  /** Stops narrating and closes the descriptor if it is not stderr. */
  close(): void;
}

const silent: Explainer = { enabled: false, step() {}, close() {} };

export type ExplainMode = 'text' | 'json';

/** SKIFF_EXPLAIN's value as a mode, or undefined when narration is off. */
export function explainMode(value: string | undefined): ExplainMode | undefined {
  if (value === undefined || ['', '0', 'false', 'no', 'off'].includes(value.toLowerCase())) return undefined;
  return value.toLowerCase() === 'json' ? 'json' : 'text';
}

const paint = (on: boolean, code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** Renders a step as a text block (plain, or coloured for a terminal). */
export function formatStep(s: Step, colour = false): string {
  const head = paint(colour, '1;36');
  const label = paint(colour, '2');
  const see = paint(colour, '33');
  const lines = [head(`▸ ${s.step}`)];
  s.what.forEach((w, i) => lines.push(`  ${label(i === 0 ? 'kernel:' : '       ')} ${w}`));
  lines.push(`  ${label('why:   ')} ${s.why}`);
  if (s.see) lines.push(`  ${label('see:   ')} ${see(s.see)}`);
  return `${lines.join('\n')}\n`;
}

/** An explainer that writes to FD. */
export function writerExplainer(mode: ExplainMode, fd: number, colour = mode === 'text' && isatty(fd) && !process.env.NO_COLOR): Explainer {
  let open = true;
  return {
    get enabled() { return open; },
    step(s) {
      if (!open) return;
      const text = mode === 'json'
        ? `${JSON.stringify({ step: s.step, what: s.what, values: s.values ?? {}, why: s.why, see: s.see ?? null })}\n`
        : formatStep(s, colour);
      try {
        writeSync(fd, text);
      } catch {
        open = false; // the reader went away: the container must not suffer for it
      }
    },
    close() {
      if (open && fd > 2) closeSync(fd);
      open = false;
    },
  };
}

let current: Explainer | undefined;

/** The explainer configured by the environment (decided once, on first use). */
export function explainer(): Explainer {
  if (current) return current;
  const mode = explainMode(process.env.SKIFF_EXPLAIN);
  current = mode ? writerExplainer(mode, Number(process.env.SKIFF_EXPLAIN_FD) || 2) : silent;
  return current;
}

/** Replaces the explainer (unit tests, or a command that narrates into a buffer). */
export function setExplainer(e: Explainer | undefined): void {
  current = e;
}

export function explaining(): boolean {
  return explainer().enabled;
}

/** Narrates one step; MAKE runs only when narration is on. */
export function explain(make: () => Step | Step[] | undefined): void {
  const e = explainer();
  if (!e.enabled) return;
  const made = make();
  for (const s of Array.isArray(made) ? made : made ? [made] : []) e.step(s);
}

/** Stops narrating for good in this process (the monitor, once the container runs). */
export function stopExplaining(): void {
  explainer().close();
}

/**
 * Takes --explain / --explain=json / --explain=text out of ARGS and turns it
 * into SKIFF_EXPLAIN, which the detached monitor inherits.
 */
export function takeExplainFlag(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    const m = /^--explain(?:=(.*))?$/.exec(a);
    if (!m) {
      out.push(a);
      continue;
    }
    const v = m[1] ?? 'text';
    process.env.SKIFF_EXPLAIN = v === 'json' ? 'json' : explainMode(v) ? '1' : '0';
    current = undefined;
  }
  return out;
}
