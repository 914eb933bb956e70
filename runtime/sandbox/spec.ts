// What the parent hands to the init stage: everything init needs, decided in
// advance, so init itself makes no policy decisions.
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
  /** Host path of skiff-exec, opened by init before pivot_root. */
  execStub: string;
  /** Whether skiff-exec unshares a cgroup namespace once it is in the container's cgroup. */
  cgroupns: boolean;
  /** Host path of the mounted overlay (the container's merged dir). */
  rootfs: string;
  hostname: string;
  mounts: MountOp[];
  /** With -t: the terminal's path inside (/dev/pts/N), reopened there so that /proc/self/fd/0 names it. */
  tty?: string;
  process: ProcessSpec;
}

/** What init writes on fd 3 when it fails before execve. */
export interface InitFailure {
  code: number;
  message: string;
}
