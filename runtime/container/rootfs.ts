// The container's root filesystem: an overlayfs mount of the image layers
// (read-only lowerdirs) under the container's own upper and work dirs.
// Mounted in the host's mount namespace at <container>/merged, as Docker does,
// so the parent can prepare files in it and `commit` can read the upper dir.
import { chownSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MNT_DETACH, mount, umount2, SyscallError } from '../../native-bindings/libc.js';
import type { ImageStore } from '../image/store.js';
import { SkiffError } from '../util/errors.js';
import { paths } from '../util/paths.js';
import type { ContainerRecord } from './model.js';

export function rootfsDirs(id: string) {
  const base = paths.container(id);
  return { upper: join(base, 'upper'), work: join(base, 'work'), merged: join(base, 'merged') };
}

/**
 * Held by a start while it mounts the container's overlay, and by a copy into
 * a stopped container for as long as its own mount of the same upper dir
 * lasts: two overlays on one upper dir at once are undefined behaviour.
 */
export const rootfsLock = (id: string) => `rootfs-${id}`;

/** overlayfs wants the topmost layer first; image configs list the base first. */
export function lowerDirs(store: ImageStore, diffIds: string[]): string[] {
  return diffIds.map((d) => store.layerPath(d)).reverse();
}

/**
 * Mount data for an overlay of LOWER (topmost first), over UPPER and WORK
 * when given (without them the overlay is read-only); undefined when it is
 * longer than the one page of mount data the kernel takes.
 */
export function overlayOptions(lower: string[], upper?: string, work?: string): string | undefined {
  const data = `lowerdir=${lower.join(':')}${upper && work ? `,upperdir=${upper},workdir=${work}` : ''}`;
  return data.length <= 4000 ? data : undefined;
}

/**
 * Mounts an overlay of LOWER at TARGET (see overlayOptions). One page of
 * mount data holds ~40 of skiff's layer paths; a deeper image (Docker runs
 * up to 125 layers) names each layer by a descriptor of this process
 * instead, /proc/self/fd/N, which the mount resolves (Docker's overlay2 uses
 * short links for the same reason). The layers stay pinned by the mount, not
 * by the descriptors, which are closed after it.
 */
export function mountOverlay(target: string, lower: string[], upper?: string, work?: string, flags = 0): void {
  const data = overlayOptions(lower, upper, work);
  if (data) return mount('overlay', target, 'overlay', flags, data);
  const fds: number[] = [];
  try {
    for (const dir of lower) fds.push(openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY));
    const short = overlayOptions(fds.map((fd) => `/proc/self/fd/${fd}`), upper, work);
    if (!short) throw new SkiffError(`image has too many layers (${lower.length}) for an overlay mount`);
    mount('overlay', target, 'overlay', flags, short);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

export function isMounted(path: string): boolean {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === path);
}

export function createRootfsDirs(rec: ContainerRecord): void {
  const d = rootfsDirs(rec.Id);
  for (const dir of [d.upper, d.work, d.merged]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const map = rec.Skiff.Userns;
  // With a user namespace, container root is an unprivileged host uid; it
  // must own the upper dir to write there (the layers below are idmapped).
  if (map) for (const dir of [d.upper, d.work]) chownSync(dir, map.hostId, map.hostId);
}

export function mountRootfs(rec: ContainerRecord, lower: string[]): void {
  const d = rootfsDirs(rec.Id);
  if (isMounted(d.merged)) return;
  mountOverlay(d.merged, lower, d.upper, d.work);
}

export function unmountRootfs(id: string): void {
  const { merged } = rootfsDirs(id);
  if (!existsSync(merged)) return;
  try {
    umount2(merged, MNT_DETACH);
  } catch (e) {
    if (!(e instanceof SyscallError) || !['EINVAL', 'ENOENT'].includes(e.code)) throw e;
  }
}

/** Per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, bind-mounted by the mount plan. */
export function writeEtcFiles(rec: ContainerRecord, extraHosts: string[] = []): { hostname: string; hosts: string; resolvConf: string } {
  const base = paths.container(rec.Id);
  const files = { hostname: join(base, 'hostname'), hosts: join(base, 'hosts'), resolvConf: join(base, 'resolv.conf') };
  const host = rec.Config.Hostname;
  writeFileSync(files.hostname, `${host}\n`, { mode: 0o644 });
  // Rewritten at every start: addresses and links may have changed.
  {
    writeFileSync(files.hosts, [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      // --network none: only the localhost lines, as in Docker.
      // --add-host entries, then the container's own name, as Docker orders them.
      ...(rec.HostConfig.ExtraHosts ?? []).map((h) => { const i = h.indexOf(':'); return `${h.slice(i + 1)}\t${h.slice(0, i)}`; }),
      ...(extraHosts.length || rec.HostConfig.NetworkMode === 'none' ? extraHosts : [`127.0.1.1\t${host}`]),
      '',
    ].join('\n'), { mode: 0o644 });
  }
  if (!existsSync(files.resolvConf)) writeFileSync(files.resolvConf, resolvConfFor(rec.HostConfig), { mode: 0o644 });
  return files;
}

/** --dns, --dns-search and --dns-option replace the host's lines of their kind, as in Docker. */
export function resolvConfFor(hc: Pick<ContainerRecord['HostConfig'], 'Dns' | 'DnsSearch' | 'DnsOptions'>, host = hostResolvConf()): string {
  if (!hc.Dns?.length && !hc.DnsSearch?.length && !hc.DnsOptions?.length) return host;
  const hostLines = (kind: string) => host.split('\n').filter((l) => l.trim().split(/\s+/)[0] === kind);
  const either = (kind: string, mine: string[] | null | undefined, line: (v: string[]) => string[]) => (mine?.length ? line(mine) : hostLines(kind));
  return [
    ...either('search', hc.DnsSearch, (v) => [`search ${v.join(' ')}`]),
    ...either('nameserver', hc.Dns, (v) => v.map((d) => `nameserver ${d}`)),
    ...either('options', hc.DnsOptions, (v) => [`options ${v.join(' ')}`]),
    '',
  ].join('\n');
}

/** The host's resolv.conf, unless it points at a loopback resolver the container cannot reach (Docker's rule). */
export function hostResolvConf(text = safeRead('/etc/resolv.conf')): string {
  const lines = text.split('\n');
  const servers = lines.filter((l) => /^\s*nameserver\s/.test(l));
  const reachable = servers.filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  if (servers.length && reachable.length === 0) {
    return lines.filter((l) => !/^\s*nameserver\s/.test(l)).concat(['nameserver 8.8.8.8', 'nameserver 8.8.4.4', '']).join('\n');
  }
  return lines.filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l)).join('\n');
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
