// HTTP Basic authentication against an htpasswd file, the way Distribution's
// `auth: htpasswd` does it: one `user:hash` per line, bcrypt hashes only
// (`htpasswd -B` writes `$2y$`, which bcrypt.js accepts alongside `$2a$`/`$2b$`).
//
// A Docker client sends the credentials with every request, and a bcrypt
// check costs tens of milliseconds of CPU by design, so a successful check is
// remembered, keyed by a SHA-256 of the header (never the header itself).
// The file is re-read when its mtime changes, so users can be added or
// removed without a restart; that also forgets every remembered check.
import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export interface Authenticator {
  /** The user name when the Authorization header carries valid credentials, else undefined. */
  check(authorization: string | undefined): Promise<string | undefined>;
}

interface Loaded { mtimeMs: number; users: Map<string, string>; ok: Map<string, string> }

function parseHtpasswd(text: string, file: string, log: (line: string) => void): Map<string, string> {
  const users = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !/^\$2[aby]\$\d\d\$/.test(hash)) {
      log(`htpasswd ${file}:${i + 1}: skipped, only bcrypt entries (htpasswd -B) are supported`);
      continue;
    }
    users.set(user, hash);
  }
  return users;
}

/** Loads `file` now (so a missing or unreadable file fails at startup) and returns the checker. */
export function htpasswdAuth(file: string, log: (line: string) => void): Authenticator {
  const load = (): Loaded => {
    const mtimeMs = statSync(file).mtimeMs;
    return { mtimeMs, users: parseHtpasswd(readFileSync(file, 'utf8'), file, log), ok: new Map() };
  };
  let current: Loaded;
  try {
    current = load();
  } catch (e) {
    throw new Error(`cannot read htpasswd file ${file}: ${(e as Error).message}`);
  }

  const refresh = () => {
    try {
      if (statSync(file).mtimeMs !== current.mtimeMs) current = load();
    } catch (e) {
      // Keep serving with what we had rather than locking everyone out on a transient error.
      log(`htpasswd ${file}: reload failed: ${(e as Error).message}`);
    }
  };

  return {
    async check(authorization) {
      const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
      if (!m) return undefined;
      refresh();
      const key = createHash('sha256').update(m[1]).digest('hex');
      const cached = current.ok.get(key);
      if (cached !== undefined) return cached;
      const decoded = Buffer.from(m[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return undefined;
      const user = decoded.slice(0, colon);
      const hash = current.users.get(user);
      if (!hash) return undefined;
      const loaded = current;
      // The async compare yields to the event loop, so other requests keep flowing meanwhile.
      if (!(await bcrypt.compare(decoded.slice(colon + 1), hash))) return undefined;
      if (loaded.ok.size > 1000) loaded.ok.clear(); // bounded: a few users, a few passwords
      loaded.ok.set(key, user);
      return user;
    },
  };
}
