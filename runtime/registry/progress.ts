// Pull and push progress, shown like Docker's.
//
// pullImage and pushImage only emit events; a ProgressDisplay renders them:
//
//   On a terminal: one line per layer, rewritten in place with ANSI cursor
//   moves (up N lines, clear, print, down N) as its status and bar change:
//     5563c30d35f0: Downloading [=============>                         ]  383kB/1.09MB
//     22ffdf225854: Download complete
//   Anywhere else (a pipe, a log file): a plain line whenever a layer's status
//   changes, without bars or cursor moves, as Docker prints in CI logs.
//
// Plain messages ("Digest: ...", "Status: ...") end the layer block: they are
// printed below it, and the lines above stay as they are.
import type { Writable } from 'node:stream';
import { humanSize } from '../cli/humanize.js';

export type ProgressEvent =
  | { kind: 'message'; text: string }
  /** id: the 12-hex short form of a layer digest; current/total: bytes, when moving. */
  | { kind: 'layer'; id: string; status: string; current?: number; total?: number };

export type ProgressSink = (ev: ProgressEvent) => void;

/** The short id Docker shows for a layer. */
export const shortId = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

const BAR_WIDTH = 50;
/** Redraw a moving bar at most this often (status changes always show). */
const REDRAW_MS = 100;

/** Docker's progress bar: `[====>     ]  1.2MB/3.4MB`; no bar on narrow terminals. */
export function progressBar(current: number, total: number, columns = 120): string {
  const numbers = `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  if (total <= 0) return humanSize(current).padStart(8);
  if (columns < 110) return numbers;
  const filled = Math.min(BAR_WIDTH, Math.floor((current / total) * BAR_WIDTH));
  const bar = filled >= BAR_WIDTH ? '='.repeat(BAR_WIDTH) : `${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled - 1)}`;
  return `[${bar}] ${numbers}`;
}

interface Line {
  id: string;
  status: string;
  text: string;
  drawnAt: number;
}

export class ProgressDisplay {
  private readonly tty: boolean;
  private lines: Line[] = [];
  /** Last status printed per id, for the plain log. */
  private readonly lastStatus = new Map<string, string>();

  constructor(private readonly out: Writable & { isTTY?: boolean; columns?: number } = process.stdout, opts: { tty?: boolean } = {}) {
    this.tty = opts.tty ?? !!out.isTTY;
  }

  /** Pass this as `onProgress`. */
  readonly handle: ProgressSink = (ev) => {
    if (ev.kind === 'message') return this.message(ev.text);
    if (this.tty) this.drawLayer(ev.id, ev.status, ev.current, ev.total);
    else this.logLayer(ev.id, ev.status, ev.current !== undefined);
  };

  private message(text: string): void {
    this.lines = []; // the block above is final now
    this.out.write(`${text}\n`);
  }

  private logLayer(id: string, status: string, moving: boolean): void {
    // Bars only make sense on a terminal; a log gets the status changes.
    if (moving || this.lastStatus.get(id) === status) return;
    this.lastStatus.set(id, status);
    this.out.write(`${id}: ${status}\n`);
  }

  private drawLayer(id: string, status: string, current?: number, total?: number): void {
    const columns = this.out.columns || 120; // a pty may report 0
    let text = `${id}: ${status}`;
    if (current !== undefined) text += ` ${progressBar(current, total ?? 0, columns)}`;
    if (text.length >= columns) text = text.slice(0, columns - 1); // a wrapped line would break the cursor math
    const i = this.lines.findIndex((l) => l.id === id);
    const now = Date.now();
    if (i < 0) {
      this.lines.push({ id, status, text, drawnAt: now });
      this.out.write(`${text}\n`);
      return;
    }
    const line = this.lines[i];
    if (line.text === text) return;
    if (line.status === status && current !== undefined && current !== total && now - line.drawnAt < REDRAW_MS) return;
    Object.assign(line, { status, text, drawnAt: now });
    const up = this.lines.length - i;
    // Up to the layer's line, clear it, print, and back down to the bottom.
    this.out.write(`\x1b[${up}A\r\x1b[2K${text}\r\x1b[${up}B`);
  }
}
