// What a container is allowed: capabilities, seccomp, no_new_privs, and the
// user's extra mounts — parsed from Docker's flags at create (so bad input
// fails before anything is made) and turned into the sandbox spec at start.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { hostDevice, type DeviceRule } from '../cgroups/devices.js';
import { capabilityMask, capabilitySet } from '../sandbox/capabilities.js';
import type { UserMounts } from '../sandbox/mounts.js';
import { compile, defaultProfile, loadProfile } from '../sandbox/seccomp.js';
import type { SecuritySpec } from '../sandbox/spec.js';
import type { SeccompSummary } from '../teach/narrate.js';
import { SkiffError } from '../util/errors.js';
import { MAX_ID } from '../util/numbers.js';
import { secureJoin } from '../sandbox/securejoin.js';
import { bindVolumeName, checkVolumeName, createVolume, isEmptyVolume, volumeData } from '../volume/store.js';
import type { HostConfig } from './model.js';

export interface SecurityOpts { seccomp: 'default' | 'unconfined' | { file: string }; noNewPrivs: boolean }

export function parseSecurityOpts(opts: string[] = []): SecurityOpts {
  const out: SecurityOpts = { seccomp: 'default', noNewPrivs: false };
  for (const o of opts) {
    const [key, value] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : o.split(':', 2);
    if (key === 'seccomp') out.seccomp = value === 'unconfined' ? 'unconfined' : { file: value ?? '' };
    else if (key === 'no-new-privileges') out.noNewPrivs = value === undefined || value === 'true';
    else throw new SkiffError(`invalid --security-opt: ${o} (skiff knows seccomp=unconfined|FILE and no-new-privileges)`);
  }
  return out;
}

/**
 * `-v /path` (or `/path:ro`, the API's read-only anonymous mount): no source,
 * so an anonymous volume; create gives it a name. Docker's CLI would refuse
 * `-v /path:ro` ("invalid mount path: 'ro'"); skiff reads it as that mount.
 */
export const isAnonymousVolume = (spec: string): boolean => isAbsolute(spec) && (!spec.includes(':') || /^[^:]+:(ro|rw)$/.test(spec));

/**
 * -v SOURCE:CTR[:ro|rw]. A SOURCE that is not a path (no leading / or .) names
 * a volume, whose _data directory is what gets bound.
 */
export function parseVolume(spec: string): { source: string; target: string; readonly: boolean; volume?: string } {
  const parts = spec.split(':');
  if (parts.length === 1 && isAbsolute(spec)) throw new SkiffError(`invalid volume specification: '${spec}': an anonymous volume is named at create`);
  if (parts.length < 2 || parts.length > 3) throw new SkiffError(`invalid volume specification: '${spec}' (use HOST:CONTAINER[:ro] or NAME:CONTAINER[:ro])`);
  const [source, target, mode = 'rw'] = parts;
  const volume = bindVolumeName(spec);
  if (volume !== undefined) checkVolumeName(volume);
  else if (!isAbsolute(source)) throw new SkiffError(`invalid volume specification: '${spec}': the host path must be absolute`);
  if (!isAbsolute(target)) throw new SkiffError(`invalid volume specification: '${spec}': mount path must be absolute`);
  if (!['ro', 'rw'].includes(mode)) throw new SkiffError(`invalid volume specification: '${spec}': invalid mode: ${mode}`);
  const t = posix.normalize(target);
  if (volume !== undefined) return { source: volumeData(volume), target: t, readonly: mode === 'ro', volume };
  return { source: posix.normalize(source), target: t, readonly: mode === 'ro' };
}

/** --tmpfs PATH[:opts]; Docker's defaults are noexec,nosuid,nodev (the flags) and size=65536k unless given. */
export function parseTmpfs(spec: string): { target: string; options: string } {
  const i = spec.indexOf(':');
  const target = i < 0 ? spec : spec.slice(0, i);
  const options = i < 0 ? '' : spec.slice(i + 1);
  if (!isAbsolute(target)) throw new SkiffError(`invalid tmpfs mount: '${spec}': path must be absolute`);
  for (const o of options.split(',').filter(Boolean)) {
    const [k, v] = o.split('=', 2);
    const ok = v === undefined ? true
      : k === 'size' ? /^\d+[kmgtpe%]?$/i.test(v)
      : k === 'nr_inodes' ? /^\d+[kmg]?$/i.test(v)
      : k === 'mode' ? /^[0-7]{1,4}$/.test(v)
      : k === 'uid' || k === 'gid' ? /^\d+$/.test(v) && BigInt(v) <= BigInt(MAX_ID)
      : true;
    if (!ok) throw new SkiffError(`invalid tmpfs mount: '${spec}': bad value for ${k}: '${v}'`);
  }
  return { target, options: options || 'size=65536k' };
}

/**
 * --device HOST[:CONTAINER][:PERMS], Docker's syntax: PERMS is a subset of
 * "rwm" (default all three); CONTAINER defaults to HOST.
 */
export function parseDevice(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = spec.split(':');
  const isPerms = (p: string | undefined) => p !== undefined && /^[rwm]{1,3}$/.test(p) && new Set(p).size === p.length;
  let host = parts[0], ctr = parts[0], perms = 'rwm';
  if (parts.length === 2) {
    if (isPerms(parts[1])) perms = parts[1];
    else ctr = parts[1];
  } else if (parts.length === 3) {
    [host, ctr, perms] = parts;
    if (!isPerms(perms)) throw new SkiffError(`invalid device mode: ${perms} (use a subset of rwm)`);
  } else if (parts.length > 3) {
    throw new SkiffError(`invalid device specification: ${spec} (use HOST[:CONTAINER][:rwm])`);
  }
  if (!isAbsolute(host)) throw new SkiffError(`invalid device specification: ${spec}: the host path must be absolute`);
  if (!isAbsolute(ctr)) throw new SkiffError(`invalid device specification: ${spec}: the container path must be absolute`);
  return { PathOnHost: posix.normalize(host), PathInContainer: posix.normalize(ctr), CgroupPermissions: perms };
}

/** The --device rules for the device cgroup; throws if a host path is not a device node. */
export function deviceRules(h: HostConfig): DeviceRule[] {
  return (h.Devices ?? []).map((d) => {
    let dev: ReturnType<typeof hostDevice>;
    try {
      dev = hostDevice(d.PathOnHost);
    } catch (e) {
      throw new SkiffError((e as Error).message);
    }
    return { type: dev.type, major: dev.major, minor: dev.minor, access: d.CgroupPermissions };
  });
}

/** Validates all of it once at create: bad capabilities, profiles or mounts fail with 125 before anything exists. */
export function validateSecurity(h: HostConfig): void {
  securitySpec(h);
  userMounts(h);
  deviceRules(h);
}

const compiled = new Map<string, string>();

export function securitySpec(h: HostConfig): SecuritySpec {
  const caps = capabilitySet({ add: h.CapAdd ?? [], drop: h.CapDrop ?? [], privileged: h.Privileged });
  const so = parseSecurityOpts(h.SecurityOpt ?? []);
  // Docker runs --privileged containers without seccomp.
  let seccomp: string | null = null;
  if (!h.Privileged && so.seccomp !== 'unconfined') {
    const profile = so.seccomp === 'default' ? defaultProfile(caps) : loadProfile(so.seccomp.file);
    // create validates and start uses the same program: compile it once per process.
    const key = JSON.stringify([profile, caps]);
    seccomp = compiled.get(key) ?? compile(profile, caps).toString('base64');
    compiled.set(key, seccomp);
  }
  return { caps: capabilityMask(caps), seccomp, noNewPrivs: so.noNewPrivs, readonlyRootfs: !!h.ReadonlyRootfs };
}

/** What the seccomp filter of securitySpec() holds, in words (for --explain); null when unconfined. */
export function seccompSummary(h: HostConfig): SeccompSummary | null {
  const spec = securitySpec(h);
  if (!spec.seccomp) return null;
  const so = parseSecurityOpts(h.SecurityOpt ?? []);
  const caps = capabilitySet({ add: h.CapAdd ?? [], drop: h.CapDrop ?? [], privileged: h.Privileged });
  const profile = so.seccomp === 'default' ? defaultProfile(caps) : loadProfile((so.seccomp as { file: string }).file);
  return {
    profile: so.seccomp === 'default' ? 'default' : (so.seccomp as { file: string }).file,
    rules: (profile.syscalls ?? []).length,
    defaultAction: profile.defaultAction,
    instructions: Buffer.from(spec.seccomp, 'base64').length / 8,
  };
}

export function userMounts(h: HostConfig): UserMounts {
  return {
    privileged: !!h.Privileged,
    volumes: (h.Binds ?? []).map(parseVolume),
    tmpfs: Object.entries(h.Tmpfs ?? {}).map(([target, options]) => ({ target, options: options || 'size=65536k' })),
    devices: (h.Devices ?? []).map((d) => ({ source: d.PathOnHost, target: d.PathInContainer })),
  };
}

/**
 * Docker creates a missing host directory for -v, and a named volume on first
 * use; an empty volume first gets the image's content at its mount path.
 * Under --userns-remap an empty volume is handed to the container's root (`owner`).
 */
export function ensureVolumeSources(m: UserMounts, rootfs: string, owner?: number): void {
  for (const v of m.volumes ?? []) {
    const name = (v as { volume?: string }).volume;
    if (name === undefined) {
      if (!existsSync(v.source)) mkdirSync(v.source, { recursive: true });
      continue;
    }
    createVolume(name);
    if (!isEmptyVolume(name)) continue;
    if (owner !== undefined) chownSync(v.source, owner, owner);
    copyUp(secureJoin(rootfs, v.target), v.source, v.target);
  }
}

function copyUp(from: string, to: string, target: string): void {
  try {
    if (!statSync(from).isDirectory()) return;
  } catch {
    return;
  }
  const r = spawnSync('cp', ['-a', '--', `${from}/.`, `${to}/`], { encoding: 'utf8' });
  if (r.status !== 0) throw new SkiffError(`copying the image's ${target} into the volume: ${(r.stderr || r.error?.message || '').trim()}`);
}
