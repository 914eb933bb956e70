// The Engine API's plumbing: version-prefixed paths, a route table, JSON
// bodies with a size limit, and Docker's error shape ({"message": "..."}).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { NetworkError } from '../network/user.js';

export const MIN_API = '1.24';
export const MAX_API = '1.44';
/** A JSON body larger than this is refused without being read whole. */
const MAX_JSON = 4 * 1024 * 1024;

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (from the path), or the newest. */
  version: string;
  /** Set when the client asked to hijack the connection (Upgrade: tcp). */
  hijack?: { socket: Duplex; head: Buffer };
}

export type Handler = (c: Ctx) => Promise<void> | void;

interface Route { method: string; re: RegExp; keys: string[]; fn: Handler }

export class Router {
  private routes: Route[] = [];

  on(method: string, pattern: string, fn: Handler): this {
    const keys: string[] = [];
    // {name} is one path segment; {name*} (image names) may hold slashes.
    const re = pattern.replace(/\{(\w+)(\*?)\}/g, (_, k: string, star: string) => {
      keys.push(k);
      return star ? '(.+?)' : '([^/]+)';
    });
    this.routes.push({ method, re: new RegExp(`^${re}$`), keys, fn });
    return this;
  }

  async handle(req: IncomingMessage, res: ServerResponse, hijack?: Ctx['hijack']): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://skiff');
    let path = url.pathname;
    let version = MAX_API;
    const m = path.match(/^\/v(\d+\.\d+)(\/.*)$/);
    if (m) {
      version = m[1];
      path = m[2];
      if (compareVersions(version, MIN_API) < 0) {
        throw new ApiError(400, `client version ${version} is too old. Minimum supported API version is ${MIN_API}, please upgrade your client to a newer version`);
      }
      if (compareVersions(version, MAX_API) > 0) {
        throw new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${MAX_API}`);
      }
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? 'GET';
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const hit = path.match(r.re);
      if (!hit) continue;
      const params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(hit[i + 1])]));
      await r.fn({ req, res, params, query: url.searchParams, version, hijack });
      return;
    }
    throw new ApiError(501, `skiff does not implement ${req.method} ${path}`);
  }
}

export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am - bm || an - bn;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function noContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/**
 * A hijacked request's body: node's parser stops at the headers, so the
 * Content-Length bytes are read off the socket (what follows is the client's stdin).
 */
async function hijackedBody(h: NonNullable<Ctx['hijack']>, length: number): Promise<Buffer> {
  let buf = h.head;
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer) => { cleanup(); resolve(d); };
      const onEnd = () => { cleanup(); resolve(null); };
      const cleanup = () => { h.socket.off('data', onData); h.socket.off('end', onEnd); h.socket.off('close', onEnd); h.socket.pause(); };
      h.socket.on('data', onData).once('end', onEnd).once('close', onEnd);
      h.socket.resume();
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  h.head = buf.subarray(length);
  return buf.subarray(0, length);
}

/** The request body as JSON ({} when empty); malformed or oversized answers 400/413. */
export async function readJson<T>(req: IncomingMessage, hijack?: Ctx['hijack']): Promise<T> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_JSON) throw new ApiError(413, `request body too large (${declared} bytes, at most ${MAX_JSON})`);
  const chunks: Buffer[] = [];
  let size = 0;
  if (hijack) chunks.push(await hijackedBody(hijack, declared));
  else for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON) throw new ApiError(413, `request body too large (more than ${MAX_JSON} bytes)`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {} as T;
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as T;
  } catch (e) {
    throw new ApiError(400, `invalid JSON body: ${(e as Error).message}`);
  }
}

/** Docker's boolean query values: 1/true/True, and an empty value counts as set for a few flags. */
export function boolParam(q: URLSearchParams, key: string, fallback = false): boolean {
  const v = q.get(key);
  if (v === null) return fallback;
  return v === '1' || v.toLowerCase() === 'true';
}

/** `filters={"status":["running"]}` (or the old map-of-true form) as the CLI's --filter strings. */
export function filterFlags(q: URLSearchParams): string[] {
  const raw = q.get('filters');
  if (!raw) return [];
  let parsed: Record<string, string[] | Record<string, boolean>>;
  try {
    parsed = JSON.parse(raw) as typeof parsed;
  } catch {
    throw new ApiError(400, `invalid filter: ${raw}`);
  }
  return Object.entries(parsed).flatMap(([k, v]) => (Array.isArray(v) ? v : Object.keys(v)).map((x) => `${k}=${x}`));
}

/** The HTTP status for a library error, from Docker's wording. */
export function httpStatus(e: Error): number {
  if (e instanceof ApiError) return e.status;
  if (e instanceof NetworkError) return e.status;
  const m = e.message;
  if (/^No such (container|image|object|exec instance)|not found$/i.test(m)) return 404;
  if (/Conflict|conflict:|already in use|is (not )?running|is paused|already running/.test(m)) return 409;
  if (/^invalid |^Invalid |bad format|must be|should be|includes invalid characters/.test(m)) return 400;
  return 500;
}

export function sendError(res: ServerResponse, e: Error): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, httpStatus(e), { message: e.message });
}
