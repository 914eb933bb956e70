// Everything the start needs to build the container, decided in advance:
// the plan that enter.ts carries out and the process skiff-exec starts.
import type { MountOp } from './mounts.js';

export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
}

export interface SecuritySpec {
  /** Capability mask in hex (bit N = capability N), applied by skiff-exec. */
  caps: string;
  /** The seccomp BPF program (base64 of a sock_filter array), or null for unconfined. */
  seccomp: string | null;
  noNewPrivs: boolean;
  readonlyRootfs: boolean;
}

export interface SandboxSpec {
  security: SecuritySpec;
  /** Whether skiff-exec unshares a cgroup namespace once it is in the container's cgroup. */
  cgroupns: boolean;
  /** Host path of the mounted overlay (the container's merged dir). */
  rootfs: string;
  hostname: string;
  mounts: MountOp[];
  /** With -t: the terminal's path inside (/dev/pts/N), reopened there so that /proc/self/fd/0 names it. */
  tty?: string;
  process: ProcessSpec;
  /** Under --userns-remap: the host ids of the container's root, which own what the plan creates. */
  owner?: { uid: number; gid: number };
}
