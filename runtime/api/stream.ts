// Docker's stream formats: the 8-byte multiplexed frame header (stream type,
// three zero bytes, big-endian length) when there is no TTY, raw bytes with one.
import type { ServerResponse } from 'node:http';
import type { Duplex, Writable } from 'node:stream';

export const STDOUT = 1;
export const STDERR = 2;

export function frame(stream: number, data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

export function mediaType(tty: boolean): string {
  return tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
}

/** Writes one stream's bytes to `out`, framed unless the container has a TTY. */
export function streamWriter(out: Writable, tty: boolean) {
  return (stream: number, data: Buffer | string): void => {
    if (out.destroyed || out.writableEnded) return;
    out.write(tty ? data : frame(stream, data));
  };
}

/**
 * The connection a streaming endpoint writes to: with `Upgrade: tcp`, the
 * hijacked socket after a 101; otherwise the ordinary response, as old clients use it.
 */
export function openStream(res: ServerResponse, hijack: { socket: Duplex } | undefined, tty: boolean): Duplex | ServerResponse {
  if (hijack) {
    hijack.socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${mediaType(tty)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    return hijack.socket;
  }
  res.writeHead(200, { 'Content-Type': mediaType(tty) });
  res.flushHeaders();
  return res;
}

/** Ends the stream once everything written has gone out (a hijacked socket is closed then). */
export function endStream(out: Duplex | ServerResponse): void {
  const sock = out as Duplex & { destroySoon?: () => void };
  if (typeof sock.destroySoon === 'function') sock.destroySoon();
  else out.end();
}
