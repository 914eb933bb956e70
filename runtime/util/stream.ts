import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Reads the first chunk of a stream and puts it back, so the format can be sniffed. */
export async function peek(input: Readable): Promise<Buffer> {
  const first: Buffer | null = await new Promise((resolve, reject) => {
    const onReadable = () => {
      const chunk = input.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      resolve(chunk);
    };
    const onEnd = () => { cleanup(); resolve(null); };
    const onError = (e: Error) => { cleanup(); reject(e); };
    const cleanup = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onError);
  });
  if (first === null) return Buffer.alloc(0);
  input.unshift(first);
  return first;
}

export const isGzip = (b: Buffer) => b[0] === 0x1f && b[1] === 0x8b;
export const isZstd = (b: Buffer) => b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd;

/** A gunzip stage. 128 KiB output chunks: fewer hand-offs between zlib's thread and ours. */
export const gunzipStream = () => createGunzip({ chunkSize: 128 * 1024 });

/** Returns the stream itself, or a gunzipped view of it when it starts with gzip's magic. */
export async function decompressed(input: Readable): Promise<Readable> {
  const head = await peek(input);
  if (!isGzip(head)) return input;
  const gunzip = gunzipStream();
  // pipe() does not pass errors on: a source that fails (a client gone mid-upload) must fail the reader too.
  input.once('error', (e) => gunzip.destroy(e));
  return input.pipe(gunzip);
}
