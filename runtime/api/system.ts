// /_ping, /version and /info: what clients ask first, to negotiate the API version.
import { cpus, hostname, release, totalmem } from 'node:os';
import { detectHostLayout } from '../cgroups/index.js';
import { refresh } from '../container/lifecycle.js';
import * as store from '../container/store.js';
import { ImageStore } from '../image/store.js';
import { diskUsage } from '../cli/disk-usage.js';
import { skiffVersion, versionInfo } from '../cli/version.js';
import { skiffRoot } from '../util/paths.js';
import { MAX_API, MIN_API, sendJson, type Ctx, type Router } from './router.js';

function ping(c: Ctx): void {
  c.res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8', 'Api-Version': MAX_API, 'Docker-Experimental': 'false', OSType: 'linux',
    'Builder-Version': '1', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache',
  });
  c.res.end(c.req.method === 'HEAD' ? undefined : 'OK');
}

function version(c: Ctx): void {
  const v = versionInfo().Client;
  const details = { ApiVersion: MAX_API, MinAPIVersion: MIN_API, Os: v.Os, Arch: v.Arch, KernelVersion: v.KernelVersion, GitCommit: '', GoVersion: v.NodeVersion, BuildTime: '' };
  sendJson(c.res, 200, {
    Platform: { Name: 'skiff' },
    Components: [{ Name: 'Engine', Version: v.Version, Details: details }],
    Version: v.Version, ...details,
  });
}

function cgroupVersion(): string {
  try {
    return detectHostLayout().mode === 'unified' ? '2' : '1';
  } catch {
    return '2';
  }
}

function info(c: Ctx): void {
  const all = store.list().map(refresh);
  const running = all.filter((r) => r.State.Running && !r.State.Paused).length;
  const paused = all.filter((r) => r.State.Paused).length;
  sendJson(c.res, 200, {
    ID: 'skiff', Containers: all.length, ContainersRunning: running, ContainersPaused: paused, ContainersStopped: all.length - running - paused,
    Images: new ImageStore().list().length, Driver: 'overlay', DriverStatus: [], DockerRootDir: skiffRoot(),
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true, SwapLimit: true, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, PidsLimit: true, IPv4Forwarding: true,
    Debug: false, NFd: 0, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: 'json-file', CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroupVersion(), NEventsListener: 0, KernelVersion: release(), OperatingSystem: 'skiff', OSVersion: '', OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, IndexServerAddress: 'https://index.docker.io/v1/', NCPU: cpus().length,
    MemTotal: totalmem(), Name: hostname(), Labels: [], ExperimentalBuild: false, ServerVersion: skiffVersion(),
    Runtimes: { skiff: { path: 'skiff' } }, DefaultRuntime: 'skiff', Swarm: { LocalNodeState: 'inactive', ControlAvailable: false },
    LiveRestoreEnabled: true, Isolation: '', InitBinary: '', SecurityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'], Warnings: [],
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
  });
}

export function systemRoutes(r: Router): void {
  r.on('GET', '/_ping', ping).on('GET', '/version', version).on('GET', '/info', info)
    .on('GET', '/system/df', (c) => sendJson(c.res, 200, diskUsage()));
}
