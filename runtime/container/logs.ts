// Container logs in Docker's json-file format: one JSON object per line,
// {"log": "...\n", "stream": "stdout"|"stderr", "time": RFC3339Nano}.
import { closeSync, createReadStream, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { sleep } from '../util/proc.js';

export type StreamName = 'stdout' | 'stderr';
export interface LogLine { log: string; stream: StreamName; time: string }

/** Appends lines as they complete; a partial line is held until its newline or the end. */
export class LogWriter {
  private fd: number;
  private partial: Record<StreamName, string> = { stdout: '', stderr: '' };
  constructor(path: string) {
    this.fd = openSync(path, 'a', 0o640);
  }
  write(stream: StreamName, chunk: Buffer | string): void {
    const text = this.partial[stream] + chunk.toString();
    const lines = text.split(/(?<=\n)/);
    this.partial[stream] = lines[lines.length - 1].endsWith('\n') ? '' : lines.pop()!;
    for (const log of lines) this.emit(stream, log);
  }
  private emit(stream: StreamName, log: string): void {
    writeSync(this.fd, JSON.stringify({ log, stream, time: new Date().toISOString() }) + '\n');
  }
  /** Pipes a readable into the log; resolves when it ends. */
  follow(stream: StreamName, source: Readable): Promise<void> {
    return new Promise((resolve) => {
      source.on('data', (d: Buffer) => this.write(stream, d));
      const done = () => {
        this.end(stream);
        resolve();
      };
      source.on('end', done);
      source.on('error', done); // EIO from a pty master once the slave is gone
    });
  }
  /** STREAM has ended: a last line without its newline is logged as it is. */
  end(stream: StreamName): void {
    if (this.partial[stream]) this.emit(stream, this.partial[stream]);
    this.partial[stream] = '';
  }
  close(): void {
    closeSync(this.fd);
  }
}

export function parseLogLines(text: string): LogLine[] {
  return text.split('\n').filter(Boolean).flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

export interface ReadLogsOptions {
  follow?: boolean;
  tail?: number; // lines from the end; undefined = all
  timestamps?: boolean;
  /** Only lines logged at or after / before these times (ms since the epoch). */
  since?: number;
  until?: number;
  /** While it returns true, --follow keeps polling for more. */
  isRunning?: () => boolean;
}

export async function readLogs(path: string, out: Writable, err: Writable, opts: ReadLogsOptions): Promise<void> {
  const inWindow = (l: LogLine) => {
    if (opts.since === undefined && opts.until === undefined) return true;
    const t = Date.parse(l.time);
    return !(opts.since !== undefined && t < opts.since) && !(opts.until !== undefined && t >= opts.until);
  };
  const print = (l: LogLine) => {
    if (inWindow(l)) (l.stream === 'stderr' ? err : out).write(opts.timestamps ? `${l.time} ${l.log}` : l.log);
  };
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // no log yet
  }
  let offset = Buffer.byteLength(text);
  let lines = parseLogLines(text).filter(inWindow);
  if (opts.tail !== undefined && opts.tail >= 0) lines = opts.tail === 0 ? [] : lines.slice(-opts.tail);
  lines.forEach(print);
  if (!opts.follow) return;
  let rest = '';
  for (;;) {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      return; // container removed
    }
    if (size > offset) {
      const chunk = await readRange(path, offset, size);
      offset = size;
      const all = rest + chunk;
      const cut = all.lastIndexOf('\n') + 1;
      rest = all.slice(cut);
      parseLogLines(all.slice(0, cut)).forEach(print);
      continue;
    }
    if (opts.isRunning && !opts.isRunning()) return;
    await sleep(100);
  }
}

function readRange(path: string, start: number, endExclusive: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    createReadStream(path, { start, end: endExclusive - 1 }).on('data', (d) => parts.push(d as Buffer))
      .on('end', () => resolve(Buffer.concat(parts).toString('utf8'))).on('error', reject);
  });
}
