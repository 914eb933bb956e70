// A running container's namespaces next to the host's, as `lsns` would show
// them for one container: what `skiff ns` prints, and what a teacher points at.
import { readlinkSync } from 'node:fs';
import { SkiffError } from '../util/errors.js';
import type { ContainerRecord } from './model.js';

/** The seven namespace types, with nsenter's flag for each. */
export const NAMESPACES = [
  { type: 'pid', flag: '-p', what: 'process IDs: PID 1 inside is the container\'s command' },
  { type: 'mnt', flag: '-m', what: 'the mount table: its own root (pivot_root) and /proc' },
  { type: 'uts', flag: '-u', what: 'hostname and domain name' },
  { type: 'ipc', flag: '-i', what: 'System V IPC objects and POSIX message queues' },
  { type: 'net', flag: '-n', what: 'network interfaces, addresses, routes, ports' },
  { type: 'user', flag: '-U', what: 'user and group IDs (shared unless --userns-remap)' },
  { type: 'cgroup', flag: '-C', what: 'which cgroup looks like the root (/proc/self/cgroup)' },
] as const;

export interface NamespaceRow {
  type: (typeof NAMESPACES)[number]['type'];
  /** The namespace's inode inside the container (PID 1's). */
  inside: number;
  /** The same namespace type on the host side: the one skiff itself runs in. */
  host: number;
  shared: boolean;
  what: string;
  /** The command that enters this namespace. */
  nsenter: string;
}

const inode = (link: string): number => Number(/\[(\d+)\]$/.exec(link)?.[1] ?? NaN);

/** Reads /proc/PID/ns/* of the container's PID 1 and /proc/self/ns/* of skiff itself. */
export function containerNamespaces(rec: ContainerRecord, proc = '/proc'): NamespaceRow[] {
  if (!rec.State.Running || !rec.State.Pid) throw new SkiffError(`container ${rec.Name.slice(1)} is not running`, 1);
  const pid = rec.State.Pid;
  return NAMESPACES.map(({ type, flag, what }) => {
    const inside = inode(readlinkSync(`${proc}/${pid}/ns/${type}`));
    const host = inode(readlinkSync(`${proc}/self/ns/${type}`));
    return { type, inside, host, shared: inside === host, what, nsenter: `nsenter -t ${pid} ${flag}` };
  });
}
