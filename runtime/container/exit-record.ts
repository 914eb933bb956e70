// The exit status must survive a full disk. state.json is replaced by an
// atomic rename, which needs free space at the very moment the container
// exits. So at start a fixed-size file, containers/<id>/exit, is written
// full of blanks: its blocks are allocated while there is room. At exit the
// status is written over those blanks in place, which needs no new space,
// before state.json is updated. Readers (refresh) prefer it when state.json
// could not be updated.
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { diskFailure } from '../util/errors.js';
import { paths } from '../util/paths.js';

const SIZE = 512;

export interface ExitRecord { ExitCode: number; Error: string; OOMKilled: boolean; FinishedAt: string }

const fileOf = (id: string) => join(paths.container(id), 'exit');

/** Before the container starts: allocate the space (fails now, with a clear message, on a full disk). */
export function reserveExitRecord(id: string): void {
  try {
    writeFileSync(fileOf(id), ' '.repeat(SIZE - 1) + '\n');
  } catch (e) {
    throw diskFailure(e as Error, 'reserving space for the exit status');
  }
}

/** At exit: overwrite the reserved blanks in place. */
export function writeExitRecord(id: string, r: ExitRecord): void {
  const text = JSON.stringify({ ...r, Error: r.Error.slice(0, 200) });
  const fd = openSync(fileOf(id), 'r+');
  try {
    writeSync(fd, text.padEnd(SIZE - 1, ' ') + '\n', 0);
  } finally {
    closeSync(fd);
  }
}

/** The recorded exit, if the container exited since its last start. */
export function readExitRecord(id: string): ExitRecord | undefined {
  try {
    const text = readFileSync(fileOf(id), 'utf8').trim();
    return text ? (JSON.parse(text) as ExitRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The record as it is once the exit is applied. */
export function exitedView<T extends { State: object; Skiff: object }>(rec: T, exit: ExitRecord): T {
  return {
    ...rec,
    State: { ...rec.State, Status: 'exited', Running: false, Paused: false, Pid: 0, ...exit },
    Skiff: { ...rec.Skiff, MonitorPid: 0 },
  };
}
