// `-u/--user` resolution against the image's /etc/passwd and /etc/group,
// with Docker's rules: "name", "uid", "name:group", "uid:gid"; a numeric uid
// need not exist in passwd, a name must.
import { SkiffError } from '../util/errors.js';
import { MAX_ID, parseId } from '../util/numbers.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

/** Digits only: Number('') is 0, which would make a blank id field root. */
const num = (s: string | undefined) => (s !== undefined && /^[0-9]+$/.test(s) ? Number(s) : NaN);

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')).filter((f) => f.length >= 6)
    .map((f) => ({ name: f[0], uid: num(f[2]), gid: num(f[3]), home: f[5] }));
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')).filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0], gid: num(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

const isNum = (s: string) => /^[0-9]+$/.test(s);
const validId = (n: number) => Number.isInteger(n) && n >= 0 && n <= MAX_ID;

/**
 * Checks the numeric parts of a `-u`/USER spec without the image's files, so
 * `create` and `build` refuse 4294967296 (which C would wrap to 0) up front.
 */
export function checkUserSpec(spec: string): void {
  const parts = spec.split(':');
  if (parts.length > 2) throw new SkiffError(`invalid user "${spec}": want <name|uid>[:<group|gid>]`);
  const [u, g] = parts;
  if (u === '' && spec !== '') throw new SkiffError(`invalid user "${spec}": the user part is empty`);
  if (isNum(u)) parseId(u, 'user');
  if (g !== undefined && isNum(g)) parseId(g, 'group');
}

export function resolveUser(spec: string, passwdText: string, groupText: string): ResolvedUser {
  checkUserSpec(spec);
  const [userPart, groupPart] = (spec || '0').split(':', 2) as [string, string | undefined];
  // An entry whose id C could not represent is no entry (a name would otherwise smuggle it in).
  const passwd = parsePasswd(passwdText).filter((p) => validId(p.uid) && validId(p.gid));
  const groups = parseGroup(groupText).filter((g) => validId(g.gid));
  let entry = isNum(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : passwd.find((p) => p.name === userPart);
  if (!entry && !isNum(userPart)) {
    throw new SkiffError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = entry ? entry.uid : Number(userPart);
  let gid = entry ? entry.gid : 0;
  if (groupPart !== undefined && groupPart !== '') {
    if (isNum(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw new SkiffError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = g.gid;
    }
  }
  const name = entry?.name;
  const extra = name ? groups.filter((g) => g.members.includes(name)).map((g) => g.gid) : [];
  return { uid, gid, groups: [...new Set([gid, ...extra])], home: entry?.home || '/' };
}
