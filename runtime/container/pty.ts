// Terminals for -t, allocated from the container's own devpts instance (not
// the host's), so that inside the container the terminal is /dev/pts/N:
// `tty` names it, `ps` shows it in the TTY column, and a program that reopens
// its terminal by name finds it.
//
//  - run/start: the container's devpts does not exist yet, so skiff mounts a
//    fresh instance on the host (<container>/devpts), opens the pair there,
//    and the mount plan binds that instance onto the container's /dev/pts
//    (and the slave onto /dev/console, as runc does). Once the parent has built
//    the root the host-side mount is detached; the container's bind keeps the
//    instance alive. Being fresh, the first pty is /dev/pts/0, as in Docker.
//  - exec: the container runs, so its /dev/pts/ptmx is opened through
//    /proc/PID/root with openat2(RESOLVE_IN_ROOT), which keeps any symlink the
//    container made inside it; the slave comes from the master (TIOCGPTPEER).
import { closeSync, fchownSync, mkdirSync, openSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { close, MNT_DETACH, MS, mount, O_NOCTTY, O_RDWR, openInRoot, pidfdGetfd, ptyNumber, ptyPeer, setWinsize, umount2, unlockPty } from '../../native-bindings/libc.js';
import { paths } from '../util/paths.js';
import { SkiffError } from '../util/errors.js';
import type { ContainerRecord, UsernsMap } from './model.js';
import { isMounted } from './rootfs.js';

export interface Pty {
  master: number;
  slave: number;
  /** The slave's path inside the container: /dev/pts/N. */
  name: string;
  /** The slave's host path (bound onto /dev/console), when the pty was made for a new container. */
  slavePath?: string;
  /** The devpts instance to bind onto the container's /dev/pts. */
  devpts?: string;
  /** Detaches the host-side devpts mount (idempotent); the container keeps its own. */
  release(): void;
}

const TTY_GID = 5; // the tty group, as Docker's devpts has it

/** Who owns a container's stdio terminal: the container user, as runc's fixStdioPermissions leaves it. */
export function chownPty(slave: number, uid: number, map: UsernsMap | null): void {
  fchownSync(slave, map ? map.hostId + uid : uid, -1);
}

/** A pty from a fresh devpts instance, mounted for a container about to start. */
export function containerPty(id: string, map: UsernsMap | null): Pty {
  const dir = join(paths.container(id), 'devpts');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (isMounted(dir)) umount2(dir, MNT_DETACH); // left by a monitor that was killed
  // gid is a host id: with --userns-remap, the container's tty group.
  const gid = (map ? map.hostId : 0) + TTY_GID;
  mount('devpts', dir, 'devpts', MS.NOSUID | MS.NOEXEC, `newinstance,ptmxmode=0666,mode=0620,gid=${gid}`);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try {
      umount2(dir, MNT_DETACH);
      rmdirSync(dir);
    } catch {
      // already gone
    }
  };
  let master = -1;
  try {
    master = openSync(join(dir, 'ptmx'), O_RDWR | O_NOCTTY);
    unlockPty(master);
    const n = ptyNumber(master);
    const slavePath = join(dir, String(n));
    const slave = openSync(slavePath, O_RDWR | O_NOCTTY);
    return { master, slave, name: `/dev/pts/${n}`, slavePath, devpts: dir, release };
  } catch (e) {
    if (master >= 0) closeSync(master);
    release();
    throw e;
  }
}

/** A pty from the devpts instance of the running container whose PID 1 is `pid`. */
export function execPty(pid: number): Pty {
  const root = openSync(`/proc/${pid}/root`, 'r');
  let master = -1;
  try {
    master = openInRoot(root, '/dev/pts/ptmx', O_RDWR | O_NOCTTY);
    unlockPty(master);
    const slave = ptyPeer(master, O_RDWR | O_NOCTTY);
    return { master, slave, name: `/dev/pts/${ptyNumber(master)}`, release() {} };
  } catch (e) {
    if (master >= 0) close(master);
    throw e;
  } finally {
    closeSync(root);
  }
}


/** Unix98 pty slaves have majors 136-143. */
const isPtySlave = (rdev: number) => { const major = (rdev >> 8) & 0xfff; return major >= 136 && major <= 143; };

/**
 * Sets the window size of a running -t container's terminal (Docker's
 * resize). The pty belongs to the container's monitor (the Node monitor,
 * skiff-shim, or a foreground `skiff run -t`), which holds its slave open for
 * the container's whole life; skiff takes a copy of that descriptor
 * (pidfd_getfd), so no extra protocol is needed and nothing the container
 * controls is opened by name. TIOCSWINSZ on the slave sends SIGWINCH to the
 * terminal's foreground process group, as a resize of the master would.
 * The slave is told from the holder's other descriptors (the user's own
 * terminal, for a foreground run) by its devpts instance: the container's.
 */
export function resizeContainerTty(rec: ContainerRecord, rows: number, cols: number): void {
  if (!rec.Config.Tty) return; // as Docker: a container without a terminal has nothing to resize
  const holder = rec.Skiff.MonitorPid;
  let devpts: number;
  try {
    devpts = statSync(`/proc/${rec.State.Pid}/root/dev/pts`).dev;
  } catch {
    throw new SkiffError(`container ${rec.Id} is not running`, 1);
  }
  for (const n of readdirSync(`/proc/${holder}/fd`)) {
    let st;
    try {
      st = statSync(`/proc/${holder}/fd/${n}`);
    } catch {
      continue; // closed meanwhile
    }
    if (!st.isCharacterDevice() || st.dev !== devpts || !isPtySlave(st.rdev)) continue;
    const fd = pidfdGetfd(holder, Number(n));
    try {
      setWinsize(fd, rows, cols);
    } finally {
      close(fd);
    }
    return;
  }
  throw new SkiffError(`cannot resize the terminal of container ${rec.Id}: its monitor holds none`, 1);
}
