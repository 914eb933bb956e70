// An HTTP client for the OCI distribution API (Docker Registry HTTP API v2).
//
// Transport
//   TLS by default, certificates verified. Loopback registries (localhost,
//   127.x, ::1) and the ones listed as insecure may also speak plain HTTP:
//   like Docker, HTTPS is tried first (without certificate checks) and plain
//   HTTP is the fallback. The choice is made once per client by `GET /v2/`.
//
// Auth (learned from the 401 that `GET /v2/` answers with)
//   Basic   every request carries `Authorization: Basic base64(user:pass)`.
//   Bearer  a token is fetched from the challenge's realm for the request's
//           scopes (`repository:NAME:pull,push`), with the user's credentials as
//           Basic auth when there are any, and cached per scope set. A later 401
//           may name another scope (cross-repo mount): the token is refetched
//           with it once.
//
// Failures
//   Network errors, 5xx and 429 are retried with exponential backoff. A blob
//   download that breaks mid-way resumes with `Range: bytes=N-` (or skips N
//   bytes when the server ignores ranges); the caller verifies the digest.
//   Registry errors (`{"errors": [{code, message, detail}]}`) become one line
//   naming the code, e.g. `manifest unknown: manifest tagged by "nope" is not found`.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError } from '../util/errors.js';
import { apiHostOf, canonicalRegistry, DOCKER_HUB, isInsecure } from './reference.js';
import { registryTrust } from './trust.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface ClientOptions {
  credentials?: Credentials;
  /** Tries per request for network errors, 5xx and 429 (default 5, or SKIFF_REGISTRY_ATTEMPTS). */
  attempts?: number;
  /** First retry delay in ms; it doubles on each retry, up to 5 s (default 250). */
  backoffMs?: number;
  /** A socket idle for this long fails the request (and is retried); default 60 s. */
  timeoutMs?: number;
  /** Overrides the insecure-registry decision (tests, `--insecure`). */
  insecure?: boolean;
}

/** A registry's answer that is an error: HTTP status plus the first error code of its JSON body. */
export class RegistryError extends SkiffError {
  constructor(message: string, readonly status: number, readonly code?: string) {
    super(message);
  }
}

/** A response whose body the caller still has to read (or `discard`). */
export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
  body: IncomingMessage;
}

/** A request body that can be produced again for a retry. */
export type Body = Buffer | { length: number; open: () => Readable };

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Body;
  /** Token scopes this request needs, e.g. ["repository:test/x:pull"]. */
  scopes?: string[];
  /** Follow 3xx (blob GETs: registries redirect to storage). Authorization is dropped when the host changes. */
  followRedirects?: boolean;
  /** Tries for this request (default: the client's). Uploads use 1: a PATCH is not idempotent. */
  attempts?: number;
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const USER_AGENT = 'skiff/0.1.0';
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'ESOCKETTIMEDOUT',
]);

/** True for failures of the connection itself (worth a retry), not answers from the registry. */
export function isNetworkError(e: unknown): boolean {
  if (e instanceof SkiffError) return false;
  const err = e as NodeJS.ErrnoException;
  return NETWORK_CODES.has(err?.code ?? '') || /socket hang up|aborted|timed out|premature/i.test(err?.message ?? '');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// For redirects away from the registry (S3, a CDN), always verified; shared by every client.
let otherHosts: https.Agent | undefined;
const otherHostsAgent = () => (otherHosts ??= new https.Agent({ keepAlive: true, ...registryTrust() }));

export class RegistryClient {
  readonly registry: string;
  readonly apiHost: string;
  readonly insecure: boolean;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly credentials?: Credentials;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private httpsAgentMade?: https.Agent;
  private base?: Promise<URL>;
  private challenge?: Challenge;
  private readonly tokens = new Map<string, { token: string; expires: number }>();

  constructor(registry: string, opts: ClientOptions = {}) {
    this.registry = canonicalRegistry(registry);
    this.apiHost = apiHostOf(this.registry);
    this.insecure = opts.insecure ?? isInsecure(this.registry);
    this.attempts = Math.max(1, opts.attempts ?? (Number(process.env.SKIFF_REGISTRY_ATTEMPTS) || 5));
    this.backoffMs = opts.backoffMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.credentials = opts.credentials;
  }

  // Made on first use: most registries a test or a demo talks to are plain HTTP on loopback.
  private get httpsAgent(): https.Agent {
    // Insecure registries skip certificate checks, as Docker's do. Nothing is
    // checked against a CA then, and an empty list spares Node building its
    // root store for the connection (~30 ms, on every pull from localhost).
    return (this.httpsAgentMade ??= new https.Agent({
      keepAlive: true, maxSockets: 8, rejectUnauthorized: !this.insecure, ...(this.insecure ? { ca: [] } : registryTrust()),
    }));
  }

  /** Frees the kept-alive sockets. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgentMade?.destroy();
  }

  private backoff(attempt: number): number {
    return Math.min(5000, this.backoffMs * 2 ** (attempt - 1));
  }

  // ---- transport ---------------------------------------------------------------

  /** One HTTP exchange, no retries, no auth. Resolves when the response headers arrive. */
  private send(url: URL, method: string, headers: Record<string, string>, body?: Body): Promise<IncomingMessage> {
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, {
        method,
        headers: { 'User-Agent': USER_AGENT, ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
        // Only the registry itself gets the insecure treatment; a redirect to
        // other storage (S3, a CDN) is verified as usual.
        agent: isHttps ? (url.host === this.apiHost ? this.httpsAgent : otherHostsAgent()) : this.httpAgent,
        timeout: this.timeoutMs,
      });
      req.on('response', resolve);
      req.on('error', reject);
      // The socket timeout also covers a body that stops flowing: destroying
      // the request makes the response stream fail, and the caller retries.
      req.on('timeout', () => req.destroy(Object.assign(new Error(`${method} ${url.pathname}: timed out`), { code: 'ETIMEDOUT' })));
      if (!body) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else pipeline(body.open(), req).catch((e: Error) => req.destroy(e));
    });
  }

  /**
   * Picks the scheme once: https, or for insecure registries https then http.
   * Also records the auth challenge `/v2/` answers with.
   */
  private baseUrl(): Promise<URL> {
    this.base ??= (async () => {
      const schemes = this.insecure ? ['https', 'http'] : ['https'];
      let firstError: unknown;
      for (const [i, scheme] of schemes.entries()) {
        const url = new URL(`${scheme}://${this.apiHost}/v2/`);
        const last = i === schemes.length - 1;
        try {
          // The https probe of an insecure registry gets one try: a plain HTTP
          // server answers a TLS hello with garbage, and that is the answer.
          const res = await this.retrying(() => this.send(url, 'GET', {}), last ? this.attempts : 1);
          discard(res);
          if (res.statusCode === 401) this.challenge = parseChallenge(res.headers['www-authenticate']);
          else if (res.statusCode !== 200) throw new RegistryError(`${this.registry} does not look like a registry: GET /v2/ answered ${res.statusCode}`, res.statusCode ?? 0);
          return new URL(`${scheme}://${this.apiHost}/`);
        } catch (e) {
          if (e instanceof SkiffError) throw e;
          firstError ??= e;
          if (last) throw new SkiffError(`cannot reach registry ${this.registry}: ${(firstError as Error).message}${i > 0 ? ` (over http: ${(e as Error).message})` : ''}`);
        }
      }
      throw new SkiffError(`cannot reach registry ${this.registry}`);
    })();
    // A failed probe may be retried by a later call.
    const probe = this.base;
    probe.catch(() => {
      if (this.base === probe) this.base = undefined;
    });
    return probe;
  }

  /** Runs `fn` until it returns a non-5xx/429 response or fails with a non-network error. */
  private async retrying(fn: () => Promise<IncomingMessage>, attempts = this.attempts): Promise<IncomingMessage> {
    for (let attempt = 1; ; attempt++) {
      let res: IncomingMessage;
      try {
        res = await fn();
      } catch (e) {
        if (attempt >= attempts || !isNetworkError(e)) throw e;
        await sleep(this.backoff(attempt));
        continue;
      }
      const status = res.statusCode ?? 0;
      if ((status >= 500 || status === 429) && attempt < attempts) {
        discard(res);
        const retryAfter = Number(res.headers['retry-after']);
        await sleep(retryAfter > 0 && retryAfter <= 10 ? retryAfter * 1000 : this.backoff(attempt));
        continue;
      }
      return res;
    }
  }

  /**
   * An authenticated request to the registry. `path` is absolute ("/v2/...")
   * or a full URL (an upload Location). Retries as described above; a 401
   * with a Bearer challenge refreshes the token once.
   */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const base = await this.baseUrl();
    let url = new URL(path, base);
    const scopes = new Set(opts.scopes ?? []);
    let reauthed = false;
    for (let redirects = 0; ; ) {
      const sameHost = url.host === base.host;
      const auth = sameHost ? await this.authHeader([...scopes]) : {};
      const res = await this.retrying(() => this.send(url, method, { ...opts.headers, ...auth }, opts.body), opts.attempts);
      const status = res.statusCode ?? 0;
      if (status === 401 && sameHost && !reauthed && this.challenge?.scheme === 'bearer') {
        // The token may lack a scope (e.g. pull on the source repo of a mount):
        // take the scope the registry asks for and fetch a fresh token once.
        const c = parseChallenge(res.headers['www-authenticate']);
        c?.params.scope?.split(' ').forEach((s) => scopes.add(s));
        this.tokens.delete(scopeKey([...scopes]));
        reauthed = true;
        discard(res);
        continue;
      }
      if (opts.followRedirects && [301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        if (++redirects > 5) throw new SkiffError(`${method} ${url.pathname}: too many redirects`);
        discard(res);
        url = new URL(res.headers.location, url);
        continue;
      }
      return { status, headers: res.headers, url, body: res };
    }
  }

  /** Throws the registry's error for a response that is not one of `ok`. */
  async expect(res: Response, ok: number[], what: string): Promise<Response> {
    if (ok.includes(res.status)) return res;
    throw await this.errorFrom(res, what);
  }

  /** Reads an error body into a RegistryError (one line naming the code). */
  async errorFrom(res: Response, what: string): Promise<RegistryError> {
    let text = '';
    try {
      text = (await readBody(res.body, 64 * 1024)).toString('utf8');
    } catch {
      // the message is enough without the body
    }
    const parsed = formatRegistryErrors(text);
    if (parsed) {
      let message = parsed.message;
      if (res.status === 401 && this.credentials) message += ` (the credentials for ${this.registry} were rejected; check \`skiff login ${this.registry}\`)`;
      else if (res.status === 401) message += ` (run \`skiff login ${this.registry}\`)`;
      return new RegistryError(message, res.status, parsed.code);
    }
    const statusText = http.STATUS_CODES[res.status] ?? '';
    return new RegistryError(`${what}: ${res.status} ${statusText}`.trim(), res.status);
  }

  // ---- auth --------------------------------------------------------------------

  private async authHeader(scopes: string[]): Promise<Record<string, string>> {
    const c = this.challenge;
    if (!c) return {};
    if (c.scheme === 'basic') return this.credentials ? { Authorization: basicAuth(this.credentials) } : {};
    return { Authorization: `Bearer ${await this.token(scopes)}` };
  }

  /** A bearer token for these scopes from the challenge's realm (cached until it expires). */
  private async token(scopes: string[]): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return cached.token;
    const c = this.challenge!;
    if (!c.params.realm) throw new SkiffError(`registry ${this.registry} asks for a bearer token but names no realm`);
    const url = new URL(c.params.realm);
    if (c.params.service) url.searchParams.set('service', c.params.service);
    for (const s of [...scopes].sort()) url.searchParams.append('scope', s);
    url.searchParams.set('client_id', 'skiff');
    const headers: Record<string, string> = {};
    if (this.credentials) headers.Authorization = basicAuth(this.credentials);
    const res = await this.retrying(() => this.send(url, 'GET', headers));
    const body = await readBody(res, 1024 * 1024);
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new RegistryError(
        this.credentials ? `unauthorized: incorrect username or password for ${this.registry}` : `unauthorized: authentication required by ${this.registry}`,
        res.statusCode,
        'UNAUTHORIZED',
      );
    }
    if (res.statusCode !== 200) throw new RegistryError(`token server ${url.host} answered ${res.statusCode}`, res.statusCode ?? 0);
    let parsed: { token?: string; access_token?: string; expires_in?: number };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new SkiffError(`token server ${url.host} sent an invalid answer`);
    }
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw new SkiffError(`token server ${url.host} sent no token`);
    // Renew a little early; the spec's default lifetime is 60 s.
    const life = Math.max(10, (parsed.expires_in ?? 60) - 5) * 1000;
    this.tokens.set(key, { token, expires: Date.now() + life });
    return token;
  }

  /**
   * Checks credentials the way `docker login` does: Basic registries must
   * accept them on `/v2/`, token registries must hand out a token for them.
   */
  async checkLogin(): Promise<void> {
    await this.baseUrl();
    if (!this.challenge) return; // the registry needs no auth at all
    if (this.challenge.scheme === 'bearer') {
      await this.token([]);
      return;
    }
    const res = await this.request('GET', '/v2/');
    if (res.status === 401) {
      discard(res.body);
      throw new RegistryError(`unauthorized: incorrect username or password for ${this.registry}`, 401, 'UNAUTHORIZED');
    }
    await this.expect(res, [200], 'GET /v2/');
    discard(res.body);
  }

  // ---- the API calls -----------------------------------------------------------

  /** GET a manifest (by tag or digest), refusing bodies over `limit` bytes. */
  async getManifest(repository: string, reference: string, limit: number): Promise<{ bytes: Buffer; mediaType: string; digest?: string }> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [`repository:${repository}:pull`],
    });
    await this.expect(res, [200], `GET manifest ${repository}:${reference}`);
    const length = Number(res.headers['content-length']);
    if (length > limit) {
      res.body.destroy();
      throw new SkiffError(`manifest too large: ${repository}:${reference} is ${length} bytes (the limit is ${limit})`);
    }
    let bytes: Buffer;
    try {
      bytes = await readBody(res.body, limit);
    } catch (e) {
      if (e instanceof TooLarge) throw new SkiffError(`manifest too large: ${repository}:${reference} is over ${limit} bytes`);
      throw e;
    }
    const mediaType = (res.headers['content-type'] ?? '').split(';')[0].trim();
    const digest = res.headers['docker-content-digest'];
    return { bytes, mediaType, digest: typeof digest === 'string' ? digest : undefined };
  }

  /**
   * A blob's content as a stream. A connection that breaks mid-way is
   * reopened with a Range request from where it stopped, up to the client's
   * attempts. The stream fails if the blob grows beyond `size`; the caller
   * still verifies the digest (ImageStore.putBlob does).
   */
  blobStream(repository: string, digest: string, size?: number): Readable {
    const self = this;
    async function* chunks(): AsyncGenerator<Buffer> {
      let offset = 0;
      for (let failures = 0; ; ) {
        let res: Response | undefined;
        try {
          res = await self.request('GET', `/v2/${repository}/blobs/${digest}`, {
            headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
            scopes: [`repository:${repository}:pull`],
            followRedirects: true,
          });
          await self.expect(res, [200, 206], `GET blob ${digest}`);
          // A resumed request answered 200 sends everything again: skip what we have.
          let skip = 0;
          if (offset > 0 && res.status === 200) skip = offset;
          if (offset > 0 && res.status === 206) {
            const start = Number(/bytes\s+(\d+)-/.exec(String(res.headers['content-range'] ?? ''))?.[1]);
            if (start !== offset) throw new SkiffError(`GET blob ${digest}: asked for bytes from ${offset}, got a range from ${start}`);
          }
          const expected = Number(res.headers['content-length']);
          let got = 0;
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            got += chunk.length;
            let c = chunk;
            if (skip > 0) {
              const n = Math.min(skip, c.length);
              skip -= n;
              c = c.subarray(n);
              if (c.length === 0) continue;
            }
            offset += c.length;
            if (size !== undefined && offset > size) throw new SkiffError(`blob ${digest} is larger than the ${size} bytes its descriptor declares`);
            yield c;
          }
          if (expected > 0 && got < expected) throw Object.assign(new Error('connection closed early'), { code: 'ECONNRESET' });
          return;
        } catch (e) {
          if (!isNetworkError(e) || ++failures >= self.attempts) throw e;
          await sleep(self.backoff(failures));
        } finally {
          res?.body.destroy();
        }
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  /** HEAD a blob: is it in this repository already? */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, { scopes: [`repository:${repository}:pull,push`] });
    discard(res.body);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.errorFrom(res, `HEAD blob ${digest}`);
  }

  /**
   * Asks for a cross-repository mount. Returns true when the registry mounted
   * the blob (201), else the upload Location to push it to (202: the registry
   * opened a normal upload instead).
   */
  async mountBlob(repository: string, digest: string, from: string): Promise<true | string> {
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/?${q}`, {
      scopes: [`repository:${repository}:pull,push`, `repository:${from}:pull`],
      attempts: 1,
    });
    await this.expect(res, [201, 202], `mount blob ${digest}`);
    discard(res.body);
    if (res.status === 201) return true;
    return this.location(res);
  }

  /** Opens an upload session; returns its Location. */
  async startUpload(repository: string): Promise<string> {
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/`, { scopes: [`repository:${repository}:pull,push`] });
    await this.expect(res, [202], `start upload to ${repository}`);
    discard(res.body);
    return this.location(res);
  }

  /** Monolithic upload: the whole blob in the closing PUT. */
  async putBlob(repository: string, location: string, digest: string, body: Body): Promise<void> {
    const res = await this.request('PUT', withDigest(location, digest), {
      headers: { 'Content-Type': 'application/octet-stream' },
      body,
      scopes: [`repository:${repository}:pull,push`],
      attempts: 1,
    });
    await this.expect(res, [201], `upload blob ${digest}`);
    discard(res.body);
  }

  /**
   * Chunked upload: PATCH each chunk with `Content-Range: START-END`
   * (inclusive, no unit: the distribution spec's form), following the
   * Location each answer returns, then PUT `?digest=` with no body.
   */
  async putBlobChunked(repository: string, location: string, digest: string, size: number, chunkSize: number, open: (start: number, end: number) => Readable): Promise<void> {
    const scopes = [`repository:${repository}:pull,push`];
    let loc = location;
    for (let start = 0; start < size; start += chunkSize) {
      const end = Math.min(size, start + chunkSize); // exclusive
      const res = await this.request('PATCH', loc, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end - 1}` },
        body: { length: end - start, open: () => open(start, end) },
        scopes,
        attempts: 1,
      });
      await this.expect(res, [202], `upload chunk ${start}-${end - 1} of ${digest}`);
      discard(res.body);
      loc = this.location(res);
    }
    const res = await this.request('PUT', withDigest(loc, digest), { scopes, attempts: 1, body: Buffer.alloc(0) });
    await this.expect(res, [201], `finish upload of ${digest}`);
    discard(res.body);
  }

  /** PUT a manifest under a tag (or digest); returns the digest the registry reports. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'Content-Type': mediaType },
      body: bytes,
      scopes: [`repository:${repository}:pull,push`],
    });
    await this.expect(res, [200, 201], `upload manifest ${repository}:${reference}`);
    discard(res.body);
    const d = res.headers['docker-content-digest'];
    return typeof d === 'string' ? d : undefined;
  }

  /** Every repository in `_catalog`, following `Link: <...>; rel="next"` pages. */
  async catalog(max = 10_000): Promise<string[]> {
    return this.paged('/v2/_catalog?n=1000', ['registry:catalog:*'], 'repositories', max);
  }

  async tags(repository: string): Promise<string[]> {
    return this.paged(`/v2/${repository}/tags/list?n=1000`, [`repository:${repository}:pull`], 'tags', 10_000);
  }

  private async paged(first: string, scopes: string[], field: 'repositories' | 'tags', max: number): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = first;
    while (next && out.length < max) {
      const res = await this.request('GET', next, { scopes });
      await this.expect(res, [200], `GET ${next.split('?')[0]}`);
      const body = JSON.parse((await readBody(res.body, 16 * 1024 * 1024)).toString('utf8')) as Record<string, string[] | null>;
      out.push(...(body[field] ?? []));
      next = /<([^>]+)>;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))?.[1];
    }
    return out.slice(0, max);
  }

  private location(res: Response): string {
    const loc = res.headers.location;
    if (!loc) throw new SkiffError(`registry ${this.registry} sent no upload Location`);
    return new URL(loc, res.url).toString();
  }
}

// ---- helpers -----------------------------------------------------------------------

export function basicAuth(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

function scopeKey(scopes: string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** Drains a response we do not read, so its socket can be reused. */
function discard(res: IncomingMessage): void {
  res.resume();
  res.on('error', () => {});
}

class TooLarge extends Error {}

/** Reads a whole body, failing with TooLarge past `limit` bytes (it stops reading then). */
export async function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.destroy();
      throw new TooLarge(`body over ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/**
 * Parses `WWW-Authenticate: Bearer realm="...",service="...",scope="..."` (or
 * Basic). Quoted values may contain commas (scopes do), so this is a tiny
 * tokenizer rather than a split.
 */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  for (const value of values) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(value);
    if (!m) continue;
    const scheme = m[1].toLowerCase();
    if (scheme !== 'basic' && scheme !== 'bearer') continue;
    const params: Record<string, string> = {};
    const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
    for (let p; (p = re.exec(m[2])); ) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
    return { scheme, params };
  }
  return undefined;
}

interface RegistryErrorBody {
  errors?: Array<{ code?: string; message?: string; detail?: unknown }>;
}

/**
 * `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}`
 * -> `manifest unknown: manifest tagged by "nope" is not found`. Returns
 * undefined when the body is not the spec's error JSON.
 */
export function formatRegistryErrors(text: string): { message: string; code?: string } | undefined {
  let body: RegistryErrorBody;
  try {
    body = JSON.parse(text) as RegistryErrorBody;
  } catch {
    return undefined;
  }
  if (!Array.isArray(body?.errors) || body.errors.length === 0) return undefined;
  const lines = body.errors.map((e) => {
    const codeText = (e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ');
    const detail = e.detail as Record<string, unknown> | null | undefined;
    if (e.code === 'MANIFEST_UNKNOWN' && detail && typeof detail === 'object' && typeof detail.Tag === 'string') {
      return `${codeText}: manifest tagged by "${detail.Tag}" is not found`;
    }
    const msg = e.message && e.message.toLowerCase() !== codeText ? e.message : '';
    let extra = '';
    if (typeof detail === 'string') extra = detail;
    else if (detail && typeof detail === 'object' && !Array.isArray(detail)) {
      extra = Object.entries(detail).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    }
    return [codeText, msg, extra].filter(Boolean).join(': ');
  });
  return { message: lines.join('; '), code: body.errors[0].code };
}

// ---- search ------------------------------------------------------------------------

export interface SearchResult {
  name: string;
  description: string;
  stars: number;
  official: boolean;
}

/**
 * Repositories matching `term`: Docker Hub's search API for docker.io, else
 * the registry's `_catalog` filtered by substring, described by their tags.
 */
export async function searchRegistry(client: RegistryClient, term: string, limit: number, showRegistry: boolean): Promise<SearchResult[]> {
  if (client.registry === DOCKER_HUB) return hubSearch(term, limit);
  const repos = (await client.catalog()).filter((r) => r.includes(term)).sort().slice(0, limit);
  const out: SearchResult[] = [];
  for (const repo of repos) {
    let tags: string[] = [];
    try {
      tags = (await client.tags(repo)).sort();
    } catch {
      // a repository we may not read: list it without tags
    }
    out.push({
      name: showRegistry ? `${client.registry}/${repo}` : repo,
      description: tags.length ? `${tags.length} tag${tags.length === 1 ? '' : 's'}: ${tags.join(', ')}` : '',
      stars: 0,
      official: false,
    });
  }
  return out;
}

async function hubSearch(term: string, limit: number): Promise<SearchResult[]> {
  const url = new URL('https://index.docker.io/v1/search');
  url.searchParams.set('q', term);
  url.searchParams.set('n', String(limit));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    https.get(url, { headers: { 'User-Agent': USER_AGENT }, timeout: 30_000, ...registryTrust() }, resolve).on('error', reject).on('timeout', function (this: http.ClientRequest) {
      this.destroy(new Error('timed out'));
    });
  }).catch((e: Error) => {
    throw new SkiffError(`cannot reach Docker Hub's search (index.docker.io): ${e.message}`);
  });
  const body = await readBody(res, 16 * 1024 * 1024);
  if (res.statusCode !== 200) throw new SkiffError(`Docker Hub search answered ${res.statusCode}`);
  const parsed = JSON.parse(body.toString('utf8')) as { results?: Array<{ name: string; description?: string; star_count?: number; is_official?: boolean }> };
  return (parsed.results ?? []).slice(0, limit).map((r) => ({
    name: r.name,
    description: r.description ?? '',
    stars: r.star_count ?? 0,
    official: !!r.is_official,
  }));
}
