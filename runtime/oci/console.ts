// process.terminal: a pty from the host's devpts, its slave bound onto the
// container's /dev/console and made its stdio; the master goes to the client
// over --console-socket (podman's conmon and containerd's shim read it there).
import { openSync } from 'node:fs';
import { sendFd } from '../../native-bindings/helper.js';
import { O_NOCTTY, O_RDWR, ptyNumber, unlockPty } from '../../native-bindings/libc.js';

export interface HostPty { master: number; slave: number; slavePath: string }

export function hostPty(): HostPty {
  const master = openSync('/dev/ptmx', O_RDWR | O_NOCTTY);
  unlockPty(master);
  const slavePath = `/dev/pts/${ptyNumber(master)}`;
  const slave = openSync(slavePath, O_RDWR | O_NOCTTY);
  return { master, slave, slavePath };
}

export function sendConsole(socketPath: string, master: number): void {
  sendFd(socketPath, master);
}
