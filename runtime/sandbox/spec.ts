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

export interface SandboxSpec {
  /** Host path of the mounted overlay (the container's merged dir). */
  rootfs: string;
  hostname: string;
  mounts: MountOp[];
  process: ProcessSpec;
}

/** What init writes on fd 3 when it fails before execve. */
export interface InitFailure {
  code: number;
  message: string;
}
