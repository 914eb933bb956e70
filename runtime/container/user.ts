// `-u/--user` resolution against the image's /etc/passwd and /etc/group,
// with Docker's rules: "name", "uid", "name:group", "uid:gid"; a numeric uid
// need not exist in passwd, a name must.
import { SkiffError } from '../util/errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')).filter((f) => f.length >= 6)
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }));
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')).filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

const isNum = (s: string) => /^[0-9]+$/.test(s);

export function resolveUser(spec: string, passwdText: string, groupText: string): ResolvedUser {
  const [userPart, groupPart] = (spec || '0').split(':', 2) as [string, string | undefined];
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
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
