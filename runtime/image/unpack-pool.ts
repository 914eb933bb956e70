// Layers are stored apart, by diff_id, so they can be unpacked at the same
// time: one worker thread per layer, at most one per CPU.
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SkiffError } from '../util/errors.js';
import { stageScript } from '../util/install.js';
import { unpackLayer, type UnpackResult } from './unpack.js';

/** SKIFF_UNPACK_THREADS: how many layers unpack at once (default: one per CPU; 0 = on the main thread). */
const configured = process.env.SKIFF_UNPACK_THREADS;
const slots = configured !== undefined && /^\d+$/.test(configured) ? Number(configured) : Math.max(1, availableParallelism());
let busy = 0;
const queue: Array<() => void> = [];

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (busy >= slots) await new Promise<void>((resolve) => queue.push(resolve));
  busy++;
  try {
    return await fn();
  } finally {
    busy--;
    queue.shift()?.();
  }
}

/** Unpacks the (gzip or plain) layer tar BLOB into DEST on a worker thread. */
export function unpackOffThread(blob: string, dest: string): Promise<UnpackResult> {
  if (slots === 0) return unpackLayer(createReadStream(blob), dest);
  return slot(() => new Promise<UnpackResult>((resolve, reject) => {
    const worker = new Worker(stageScript('unpack-worker'), { workerData: { blob, dest } });
    let settled = false;
    worker.once('message', (m: { ok: boolean; result?: UnpackResult; message?: string; code?: number; skiff?: boolean }) => {
      settled = true;
      if (m.ok) resolve(m.result!);
      else reject(m.skiff ? new SkiffError(m.message!, m.code) : new Error(m.message));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the unpack worker exited with code ${code}`));
    });
  }));
}
