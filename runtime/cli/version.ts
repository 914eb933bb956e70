// skiff's version (package.json's), and what `skiff version` reports.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../native-bindings/helper.js';

export function skiffVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Go's names for the architecture, as in Docker's OS/Arch line. */
const GOARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The data `skiff version --format` sees: Docker's shape, with skiff's own fields. */
export function versionInfo() {
  return {
    Client: {
      Platform: { Name: 'skiff' },
      Version: skiffVersion(),
      NodeVersion: process.version,
      Os: process.platform,
      Arch: GOARCH[process.arch] ?? process.arch,
      KernelVersion: release(),
    },
  };
}

/** `skiff version`: Docker's layout. skiff has no daemon, so there is only a client part. */
export function versionText(): string {
  const c = versionInfo().Client;
  const line = (k: string, v: string) => ` ${`${k}:`.padEnd(19)}${v}\n`;
  return `Client:\n${line('Version', c.Version)}${line('Node.js version', c.NodeVersion)}${line('OS/Arch', `${c.Os}/${c.Arch}`)}${line('Kernel', c.KernelVersion)}`;
}
