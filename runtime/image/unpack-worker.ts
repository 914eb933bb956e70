// A worker thread that unpacks one layer blob (see unpack-pool.ts): the file
// creation is synchronous, so layers unpacked on the main thread take turns;
// each in its own thread, they use every core.
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SkiffError } from '../util/errors.js';
import { unpackLayer } from './unpack.js';

const { blob, dest } = workerData as { blob: string; dest: string };
unpackLayer(createReadStream(blob), dest).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (e: Error & { exitCode?: number }) => parentPort!.postMessage({ ok: false, message: e.message, code: e.exitCode, skiff: e instanceof SkiffError }),
);
