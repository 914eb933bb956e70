// The container record, stored as $SKIFF_ROOT/containers/<id>/state.json.
// Field names follow Docker's inspect output, so `skiff inspect` is mostly
// this record as it is; skiff's own bookkeeping lives under `Skiff`.

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  WorkingDir: string;
  Entrypoint: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  ExposedPorts?: Record<string, object>;
}

export interface HostConfig {
  Memory: number;
  MemorySwap: number;
  NanoCpus: number;
  CpuShares: number;
  PidsLimit: number | null;
  AutoRemove: boolean;
  NetworkMode: string;
  PortBindings?: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  PublishAllPorts?: boolean;
  Links?: string[];
  UsernsMode: string;
  Privileged?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  SecurityOpt?: string[] | null;
  ReadonlyRootfs?: boolean;
  Binds?: string[] | null;
  Tmpfs?: Record<string, string>;
  /** --device HOST[:CONTAINER][:PERMS] */
  Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }> | null;
  /** --add-host, as "HOST:IP" */
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
}

export interface UsernsMap {
  /** Host uid/gid that container root maps to, and the range size. */
  hostId: number;
  size: number;
}

export interface ContainerRecord {
  Id: string;
  Name: string; // "/name", as Docker
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string; // sha256:... image ID
  LogPath: string;
  Config: ContainerConfig;
  HostConfig: HostConfig;
  GraphDriver: { Name: 'overlay'; Data: { LowerDir: string; UpperDir: string; MergedDir: string; WorkDir: string } };
  NetworkSettings: { IPAddress: string; Gateway: string; MacAddress: string; IPPrefixLen: number; Ports: Record<string, unknown>; Networks: Record<string, unknown> };
  Mounts: unknown[];
  Skiff: {
    /** /proc/PID/stat start time of State.Pid: tells a live container from a recycled pid. */
    PidStartTime: number;
    /** pid of the process waiting on the container (a foreground `run` or a detached monitor). */
    MonitorPid: number;
    MonitorStartTime: number;
    Userns: UsernsMap | null;
    /** Container cgroup directories, one per hierarchy, for cleanup. */
    CgroupPaths: string[];
  };
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

export function initialState(): ContainerState {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z',
  };
}
