// Registry credentials: $SKIFF_ROOT/auth.json, mode 0600, in the `auths`
// format of Docker's config.json:
//
//   { "auths": { "127.0.0.1:5000": { "auth": "<base64 of user:password>" } } }
//
// Docker Hub's entry is keyed "https://index.docker.io/v1/", as Docker keys it,
// so the file can be copied from ~/.docker/config.json. Passwords are never
// printed; only `skiff login` writes the file, only `skiff logout` removes entries.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SkiffError } from '../util/errors.js';
import { readJsonOr, writeJsonAtomic } from '../util/json.js';
import { skiffRoot } from '../util/paths.js';
import { type Credentials, RegistryClient, type ClientOptions } from './client.js';
import { canonicalRegistry, DOCKER_HUB, DOCKER_HUB_AUTH_KEY } from './reference.js';

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
}

export function authFile(root = skiffRoot()): string {
  return join(root, 'auth.json');
}

/** The key a registry's entry has in the file. */
export function authKey(registry: string): string {
  const r = canonicalRegistry(registry);
  return r === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : r;
}

function readAuthFile(root: string): AuthFile {
  try {
    return readJsonOr<AuthFile>(authFile(root), {});
  } catch {
    throw new SkiffError(`${authFile(root)} is not valid JSON; fix or remove it`);
  }
}

/** Stored credentials for a registry, if any. Keys like "http://host:port/v1/" match too. */
export function getCredentials(registry: string, root = skiffRoot()): Credentials | undefined {
  const auths = readAuthFile(root).auths ?? {};
  const want = authKey(registry);
  const key = Object.keys(auths).find((k) => k === want || authKey(k) === want);
  if (!key) return undefined;
  const entry = auths[key];
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new SkiffError(`the stored credentials for ${registry} are malformed; run \`skiff login ${registry}\` again`);
    return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

export function saveCredentials(registry: string, creds: Credentials, root = skiffRoot()): void {
  const file = authFile(root);
  const data = readAuthFile(root);
  data.auths ??= {};
  data.auths[authKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  mkdirSync(dirname(file), { recursive: true });
  writeJsonAtomic(file, data, 0o600);
  chmodSync(file, 0o600); // an older file may have had a wider mode
}

/** Removes a registry's entry; returns whether there was one. */
export function removeCredentials(registry: string, root = skiffRoot()): boolean {
  const file = authFile(root);
  if (!existsSync(file)) return false;
  const data = readAuthFile(root);
  const want = authKey(registry);
  const keys = Object.keys(data.auths ?? {}).filter((k) => k === want || authKey(k) === want);
  if (keys.length === 0) return false;
  for (const k of keys) delete data.auths![k];
  writeJsonAtomic(file, data, 0o600);
  return true;
}

/**
 * Checks the credentials against the registry (Basic: `/v2/` must accept
 * them; Bearer: the token server must), then stores them. Throws a clear
 * error naming the registry when they are refused; stores nothing then.
 */
export async function login(registry: string, creds: Credentials, opts: { root?: string; client?: ClientOptions } = {}): Promise<void> {
  await checkCredentials(registry, creds, opts.client);
  saveCredentials(registry, creds, opts.root);
}

/** The check alone (the Engine API's /auth: the client keeps the credentials, not the service). */
export async function checkCredentials(registry: string, creds: Credentials, client?: ClientOptions): Promise<void> {
  if (!creds.username) throw new SkiffError('Username is required');
  if (!creds.password) throw new SkiffError('Password is required');
  const c = new RegistryClient(registry, { ...client, credentials: creds });
  try {
    await c.checkLogin();
  } finally {
    c.close();
  }
}

export function logout(registry: string, root = skiffRoot()): boolean {
  return removeCredentials(registry, root);
}
