// Fake cgroup hosts for unit tests: the text of /proc/self/cgroup and
// /proc/self/mountinfo, plus a directory tree standing in for /sys/fs/cgroup.
// A real cgroupfs fills every new directory with its interface files; a test
// stands in for the kernel by calling writeFiles() after createCgroup().
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FakeHost {
  /** fsRoot to pass to detectLayout. */
  root: string;
  procSelfCgroup: string;
  mountinfo: string;
  cleanup(): void;
}

/** Creates DIR (inside the fake root) with the given files. */
export function writeFiles(dir: string, files: Record<string, string> = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

export function readFile(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

function host(procSelfCgroup: string, mountinfo: string, tree: Record<string, Record<string, string>>): FakeHost {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cgfake-'));
  for (const [dir, files] of Object.entries(tree)) writeFiles(path.join(root, dir), files);
  return { root, procSelfCgroup, mountinfo, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

const V1_CORE = { 'cgroup.procs': '', tasks: '' };

/** This development machine, as measured (see /work/shared/PLATFORM.md). */
export const HYBRID_OWN_MEMORY = '/process_api/30c68f4f82581d41ea1de5002e2513ac';
export function hybridHost(): FakeHost {
  const proc = [
    '9:name=systemd:/',
    '8:pids:/',
    '7:blkio:/',
    '6:freezer:/',
    '5:devices:/',
    `4:memory:${HYBRID_OWN_MEMORY}`,
    '3:cpuset:/',
    '2:cpuacct:/',
    '1:cpu:/',
    '0::/',
  ].join('\n');
  const mountinfo = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
    '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices',
    '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
    '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
    '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    '',
  ].join('\n');
  const tree: Record<string, Record<string, string>> = {
    '/sys/fs/cgroup/unified': { 'cgroup.controllers': 'hugetlb\n', 'cgroup.subtree_control': '', 'cgroup.procs': '' },
    [`/sys/fs/cgroup/memory${HYBRID_OWN_MEMORY}`]: { ...V1_CORE, 'memory.limit_in_bytes': '9223372036854771712\n' },
  };
  for (const c of ['cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'blkio', 'pids', 'systemd']) {
    tree[`/sys/fs/cgroup/${c}`] = V1_CORE;
  }
  return host(proc, mountinfo, tree);
}

/** Pure cgroup v2 with the runtime in the root cgroup (like a minimal VM). */
export function unifiedHost(): FakeHost {
  const mountinfo =
    '25 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
  return host('0::/\n', mountinfo, {
    '/sys/fs/cgroup': {
      'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      'cgroup.subtree_control': '',
      'cgroup.procs': '1\n',
    },
    // cgroupfs would create these files with the directory.
    '/sys/fs/cgroup/skiff': { 'cgroup.controllers': '', 'cgroup.subtree_control': '' },
  });
}

/**
 * Pure cgroup v2 seen from inside a container without a cgroup namespace: the host
 * bind-mounted its /docker/abc cgroup at /sys/fs/cgroup, so the mount's root field
 * is /docker/abc, /proc/self/cgroup says /docker/abc/runner, and our own cgroup is
 * /sys/fs/cgroup/runner. The parent delegated memory and pids but not cpu.
 */
export function nestedUnifiedHost(): FakeHost {
  const mountinfo =
    '610 600 0:26 /docker/abc /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n';
  return host('0::/docker/abc/runner\n', mountinfo, {
    '/sys/fs/cgroup': { 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.subtree_control': 'memory pids\n' },
    '/sys/fs/cgroup/runner': { 'cgroup.controllers': 'memory pids\n', 'cgroup.subtree_control': 'memory\n' },
    '/sys/fs/cgroup/runner/skiff': { 'cgroup.controllers': 'memory\n', 'cgroup.subtree_control': '' },
  });
}

/** cgroup v1 only, cpu and cpuacct co-mounted, runtime in a systemd session scope. */
export const LEGACY_OWN = '/user.slice/session-1.scope';
export function legacyHost(): FakeHost {
  const proc = [
    `12:pids:${LEGACY_OWN}`,
    `9:freezer:${LEGACY_OWN}`,
    `7:devices:${LEGACY_OWN}`,
    `4:memory:${LEGACY_OWN}`,
    `3:cpu,cpuacct:${LEGACY_OWN}`,
    `1:name=systemd:${LEGACY_OWN}`,
  ].join('\n');
  const mountinfo = [
    '24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755',
    '25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup rw,xattr,name=systemd',
    '28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,cpu,cpuacct',
    '29 24 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,memory',
    '31 24 0:27 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,devices',
    '33 24 0:29 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,freezer',
    '36 24 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids',
    '',
  ].join('\n');
  const tree: Record<string, Record<string, string>> = {};
  for (const c of ['systemd', 'cpu,cpuacct', 'memory', 'devices', 'freezer', 'pids']) {
    tree[`/sys/fs/cgroup/${c}${LEGACY_OWN}`] = V1_CORE;
  }
  return host(proc, mountinfo, tree);
}
