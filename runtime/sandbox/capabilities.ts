// Linux capabilities: Docker's default set, and --cap-add / --cap-drop /
// --privileged. The result is a 64-bit mask that skiff-exec applies right
// before the command runs (bounding, permitted and effective sets;
// inheritable and ambient empty, as in Docker since CVE-2022-24769).
import { SkiffError } from '../util/errors.js';

export const CAPS: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
]; // index = capability number

/** Docker's default 14 (moby oci/caps/defaults.go). */
export const DEFAULT_CAPS: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

function normalize(name: string): string {
  const n = name.toUpperCase().replace(/^CAP_/, '');
  if (n !== 'ALL' && !CAPS.includes(n)) throw new SkiffError(`invalid capability: ${name}`);
  return n;
}

/** The capability names a container gets, Docker's rules: drop ALL first, then add. */
export function capabilitySet(opts: { add?: string[]; drop?: string[]; privileged?: boolean }): string[] {
  if (opts.privileged) return [...CAPS];
  const add = (opts.add ?? []).map(normalize);
  const drop = (opts.drop ?? []).map(normalize);
  let set = new Set(drop.includes('ALL') ? [] : DEFAULT_CAPS);
  for (const d of drop) set.delete(d);
  if (add.includes('ALL')) set = new Set(CAPS);
  for (const a of add) if (a !== 'ALL') set.add(a);
  return CAPS.filter((c) => set.has(c));
}

/** The set as a hex mask (bit N = capability N), the form skiff-exec takes. */
export function capabilityMask(names: string[]): string {
  let mask = 0n;
  for (const n of names) mask |= 1n << BigInt(CAPS.indexOf(n));
  return mask.toString(16);
}
