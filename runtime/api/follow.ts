// Watching a container from outside its monitor, as attach and wait need:
// the container belongs to its shim, so the service reads the json log and
// the exit record. Both files are opened up front and read through those
// descriptors, so an --rm container's output and exit status are still there
// after its directory is removed.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { refresh } from '../container/lifecycle.js';
import type { ContainerRecord } from '../container/model.js';
import { parseLogLines, type LogLine } from '../container/logs.js';
import { reserveExitRecord, type ExitRecord } from '../container/exit-record.js';
import * as store from '../container/store.js';
import { paths } from '../util/paths.js';
import { sleep } from '../util/proc.js';

const POLL_MS = 10;
const MAX_POLL_MS = 100;

/** The record now, or undefined once it is gone (removed). Other failures throw. */
function current(id: string): ContainerRecord | undefined {
  let rec: ContainerRecord;
  try {
    rec = store.read(id);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return rec.State.Running ? refresh(rec) : rec;
}

/**
 * Tells when a run that began after `since` (or the current one) is over:
 * the container exited after starting, or was removed.
 */
export class RunWatch {
  private readonly startedAt: string;
  private readonly wasRunning: boolean;
  private readonly exitFd: number;
  last: ContainerRecord | undefined;

  constructor(readonly rec: ContainerRecord) {
    this.startedAt = rec.State.StartedAt;
    this.wasRunning = rec.State.Running;
    this.last = rec;
    const file = join(paths.container(rec.Id), 'exit');
    // The start reserves it by rewriting it in place: the same inode, which this fd keeps readable.
    if (!existsSync(file)) reserveExitRecord(rec.Id);
    this.exitFd = openSync(file, 'r');
  }

  /** 'running', 'exited' (this run is over) or 'removed'. */
  poll(): 'waiting' | 'exited' | 'removed' {
    let rec: ContainerRecord | undefined;
    try {
      rec = current(this.rec.Id);
    } catch {
      return 'waiting'; // e.g. refresh() racing the monitor's own finalize: look again, never report 'removed' early
    }
    if (!rec) return 'removed';
    this.last = rec;
    if (rec.State.Running) return 'waiting';
    return this.wasRunning || rec.State.StartedAt !== this.startedAt ? 'exited' : 'waiting';
  }

  /** The exit status, read through the saved descriptor (works after removal). */
  exit(): ExitRecord | undefined {
    const buf = Buffer.alloc(512);
    const n = readSync(this.exitFd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('utf8').trim();
    try {
      return text ? (JSON.parse(text) as ExitRecord) : undefined;
    } catch {
      return undefined;
    }
  }

  exitCode(): number {
    const e = this.exit();
    if (e) return e.OOMKilled ? 137 : e.ExitCode;
    return this.last?.State.ExitCode ?? 0;
  }

  /** Polls often at first (short runs end fast), then less. */
  async until(done: (s: ReturnType<RunWatch['poll']>) => boolean, aborted: () => boolean = () => false): Promise<void> {
    const t0 = Date.now();
    while (!done(this.poll()) && !aborted()) await sleep(Math.min(MAX_POLL_MS, POLL_MS + (Date.now() - t0) / 50));
  }

  close(): void {
    closeSync(this.exitFd);
  }
}

/** Reads the json log from its current end (or its start) as lines are appended. */
export class LogTail {
  private readonly fd: number;
  private pos: number;
  private rest = '';
  /** Keeps a UTF-8 character split across two reads whole. */
  private readonly decoder = new StringDecoder('utf8');

  constructor(logPath: string, fromStart = false) {
    // 'a+' creates it as the monitor would; the monitor appends to the same file.
    this.fd = openSync(logPath, 'a+', 0o640);
    this.pos = fromStart ? 0 : fstatSync(this.fd).size;
  }

  /** Whatever complete lines were appended since the last call. */
  read(final = false): LogLine[] {
    const out: LogLine[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, this.pos);
      if (n <= 0) break;
      this.pos += n;
      const text = this.rest + this.decoder.write(buf.subarray(0, n));
      const cut = text.lastIndexOf('\n') + 1;
      this.rest = text.slice(cut);
      out.push(...parseLogLines(text.slice(0, cut)));
    }
    if (final && this.rest) {
      out.push(...parseLogLines(this.rest));
      this.rest = '';
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}
