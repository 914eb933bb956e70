// The steps --explain narrates (see explain.ts), built from the values the
// start and exec paths already hold: the mount plan, the cgroup writes, the
// clone flags, the security spec. Only called when narration is on.
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CLONE } from '../../native-bindings/helper.js';
import { MS } from '../../native-bindings/libc.js';
import type { CgroupWrite, ContainerCgroup, DeviceRule } from '../cgroups/index.js';
import type { ContainerRecord, UsernsMap } from '../container/model.js';
import type { BridgeEndpoint, PreparedNetwork } from '../network/index.js';
import { tableName, vethName } from '../network/host.js';
import { CAPS } from '../sandbox/capabilities.js';
import type { MountOp } from '../sandbox/mounts.js';
import type { ProcessSpec, SandboxSpec, SecuritySpec } from '../sandbox/spec.js';
import type { Step } from './explain.js';

const NS_OF_FLAG: Array<[keyof typeof CLONE, string, string]> = [
  ['NEWPID', 'pid', 'its own process numbers: the command will be PID 1 and see no host process'],
  ['NEWNS', 'mnt', 'its own mount table, so mounts made for it stay invisible to the host'],
  ['NEWUTS', 'uts', 'its own hostname'],
  ['NEWIPC', 'ipc', 'its own System V IPC and POSIX message queues'],
  ['NEWNET', 'net', 'its own network interfaces, addresses, routes and ports'],
  ['NEWUSER', 'user', 'its own user ids: its root maps to an unprivileged host uid'],
];

/** The inode of PID's namespace NS (what `ls -l /proc/PID/ns` shows), or undefined once it is gone. */
export function nsInode(pid: number | 'self', ns: string): number | undefined {
  try {
    return Number(/\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/${ns}`))?.[1]);
  } catch {
    return undefined;
  }
}

const human = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

export function layersStep(image: string, layers: Array<{ diffId: string; path: string; size: number }>): Step {
  return {
    step: 'layers',
    what: layers.map((l, i) => `layer ${i + 1}/${layers.length}: ${l.diffId.slice(0, 19)} ${human(l.size)} at ${l.path}`),
    why: `The image ${image} is a stack of read-only directories (layers), base first. Nothing is copied: every container of this image shares them.`,
    see: layers.length ? `ls ${layers[layers.length - 1].path}` : undefined,
    values: { image, layers },
  };
}

export function overlayStep(lower: string[], { upper, work, merged }: { upper: string; work: string; merged: string }, idmapped: boolean): Step {
  const data = `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
  return {
    step: 'overlay',
    what: [`mount("overlay", "${merged}", "overlay", 0, "${data}")`],
    why: 'overlayfs shows the layers as one directory tree. Reads fall through to the layers (lowerdir, topmost first); every write lands in this container\'s own upperdir, so the image stays untouched.'
      + (idmapped ? ' Each layer is first given an idmapped mount, so that files owned by root appear owned by the container\'s remapped root.' : ''),
    see: `findmnt ${merged}`,
    values: { lower, upper, work, merged, idmapped },
  };
}

export function cgroupStep(cg: ContainerCgroup, writes: CgroupWrite[], devices: DeviceRule[] | undefined, bpf: boolean): Step {
  const files = writes.map((w) => ({ file: join(cg.dirs[w.controller] ?? '?', w.file), value: w.value, ifExists: w.ifExists }))
    .filter((f) => !f.ifExists || existsSync(f.file)).map(({ file, value }) => ({ file, value }));
  const limit = files.find((f) => /memory\.(max|limit_in_bytes)$/.test(f.file)) ?? files[0];
  return {
    step: 'cgroup',
    what: [
      ...cg.hierarchies.map((h) => `mkdir ${h.dir}`),
      ...files.map((f) => `write ${JSON.stringify(f.value)} > ${f.file}`),
      ...(bpf ? [`bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE); bpf(BPF_PROG_ATTACH) to ${cg.hierarchies.find((h) => h.version === 2)?.dir}`] : []),
    ],
    why: 'A control group is a directory the kernel accounts a group of processes in. The files written there are the limits (memory, CPU, number of processes) and the devices the container may open'
      + `${devices ? ` (${devices.length} device rules)` : ''}. The process joins it once it exists.`,
    see: limit ? `cat ${limit.file}` : `ls ${cg.hierarchies[0]?.dir ?? '/sys/fs/cgroup'}`,
    values: { dirs: cg.hierarchies.map((h) => h.dir), files, devices: devices?.length ?? null, bpf },
  };
}

export function cloneStep(pid: number, flags: number, joinedNet: boolean): Step {
  const named = NS_OF_FLAG.filter(([f]) => flags & CLONE[f]);
  const namespaces: Record<string, number | undefined> = {};
  for (const [, ns] of named) namespaces[ns] = nsInode(pid, ns);
  return {
    step: 'clone',
    what: [`clone(${named.map(([f]) => `CLONE_${f}`).join(' | ')} | SIGCHLD) = ${pid}`,
      ...named.map(([, ns]) => `${ns} namespace ${namespaces[ns]} (the host's: ${nsInode('self', ns)})`)],
    why: `clone() makes the container's first process (host PID ${pid}) and, with each flag, a new namespace for it: `
      + named.map(([, ns, why]) => `${ns}: ${why}`).join('; ')
      + `.${joinedNet ? ' It joins another container\'s network namespace instead of making one.' : ''} It waits on a pipe until the parent has prepared everything.`,
    see: `ls -l /proc/${pid}/ns`,
    values: { pid, flags: named.map(([f]) => `CLONE_${f}`), namespaces },
  };
}

export function idmapStep(pid: number, map: UsernsMap | null): Step {
  if (!map) {
    return {
      step: 'idmap',
      what: ['(no user namespace: no uid_map or gid_map written)'],
      why: 'Without --userns-remap the container shares the host\'s user ids: its root is the host\'s root, held back by capabilities, seccomp and the mount plan rather than by a uid.',
      see: `cat /proc/${pid}/uid_map`,
      values: { pid, uidMap: '0 0 4294967295', userns: false },
    };
  }
  const line = `0 ${map.hostId} ${map.size}`;
  return {
    step: 'idmap',
    what: [`write "${line}" > /proc/${pid}/uid_map`, `write "${line}" > /proc/${pid}/gid_map`],
    why: `In its new user namespace, uid 0 (root) is host uid ${map.hostId}, and ${map.size} ids from there: root inside, nobody special outside.`,
    see: `cat /proc/${pid}/uid_map`,
    values: { pid, uidMap: line, gidMap: line, userns: true },
  };
}

export function networkSteps(rec: ContainerRecord, pid: number, net: PreparedNetwork): Step[] {
  const mode = rec.HostConfig.NetworkMode;
  const e: BridgeEndpoint | undefined = net.endpoint;
  if (!e) {
    const what = mode === 'host' ? ['(no network namespace: the host\'s interfaces)']
      : mode.startsWith('container:') ? [`setns(/proc/<pid of ${mode.slice(10, 22)}>/ns/net, CLONE_NEWNET)`]
        : ['(a new network namespace with only lo)'];
    return [{
      step: 'network',
      what,
      why: mode === 'none' ? 'With --network none the container gets an empty network namespace: a loopback interface and nothing else.'
        : mode === 'host' ? 'With --network host the container uses the host\'s network stack as it is.'
          : 'The container shares another container\'s network namespace: same interfaces, same addresses.',
      see: `nsenter -t ${pid} -n ip addr`,
      values: { mode },
    }];
  }
  const steps: Step[] = [{
    step: 'network',
    what: [
      `ip link add ${e.veth} type veth peer name eth0 address ${e.mac} netns ${pid}`,
      `ip link set ${e.veth} master ${e.bridge} up`,
      `(in ${pid}'s network namespace) ip link set lo up; ip addr add ${e.ip}/${e.prefixLen} brd + dev eth0; ip link set eth0 up`,
      `(in ${pid}'s network namespace) ip route add default via ${e.gateway} dev eth0`,
    ],
    why: `A veth pair is a virtual cable: ${e.veth} stays on the host, plugged into the bridge ${e.bridge} (a virtual switch, gateway ${e.gateway}); its other end is moved into the container's network namespace as eth0, with the leased address ${e.ip}/${e.prefixLen}. Packets for anywhere else go to the gateway.`,
    see: `nsenter -t ${pid} -n ip addr`,
    values: { mode, bridge: e.bridge, veth: e.veth, ip: e.ip, prefixLen: e.prefixLen, mac: e.mac, gateway: e.gateway, routes: [`default via ${e.gateway} dev eth0`] },
  }];
  const dnat = e.ports.map((p) => `${p.hostIp && p.hostIp !== '0.0.0.0' ? `ip daddr ${p.hostIp} ` : ''}${p.proto} dport ${p.hostPort} dnat to ${e.ip}:${p.containerPort}`);
  steps.push({
    step: 'nat',
    what: [`nft: table ip ${tableName(e.bridge)}: masquerade for saddr in the bridge's subnet leaving by another interface`, ...dnat.map((d) => `nft: ${d}`)],
    why: 'The container\'s address is private to this host. Outgoing packets are rewritten to leave with the host\'s address (masquerade)'
      + (dnat.length ? '; packets to a published host port are rewritten to go to the container (DNAT).' : '; no port is published, so nothing from outside reaches it.'),
    see: `nft list table ip ${tableName(e.bridge)}`,
    values: { table: tableName(e.bridge), dnat: e.ports },
  });
  if (rec.HostConfig.Links?.length) {
    const hosts = net.hostsLines.slice(0, -1);
    steps.push({
      step: 'links',
      what: [...hosts.map((h) => `/etc/hosts: ${h.replace('\t', ' ')}`), `${net.env.length} environment variables (${net.env.slice(0, 2).map((v) => v.split('=')[0]).join(', ')}${net.env.length > 2 ? ', ...' : ''})`],
      why: '--link is no kernel feature: the linked containers\' names and addresses are written into this container\'s /etc/hosts and environment.',
      see: `cat /proc/${pid}/root/etc/hosts`,
      values: { hosts, env: net.env },
    });
  }
  return steps;
}

function flagNames(flags: number): string {
  const names = (Object.keys(MS) as Array<keyof typeof MS>).filter((k) => flags & MS[k]).map((k) => `MS_${k}`);
  return names.length ? names.join('|') : '0';
}

/** One line per mount op, as the mount(2) call (or symlink) it becomes. */
export function mountLine(op: MountOp): string {
  switch (op.kind) {
    case 'fs': return `mount("${op.source}", "${op.target}", "${op.fstype}", ${flagNames(op.flags)}${op.data ? `, "${op.data}"` : ''})`;
    case 'bind': return `mount("${op.source}", "${op.target}", NULL, MS_BIND|MS_REC)${op.readonly ? ' + remount MS_RDONLY' : ''}`;
    case 'symlink': return `symlink("${op.linkTo}", "${op.target}")`;
    case 'mask': return `mask ${op.target} (an empty read-only tmpfs or /dev/null over it)`;
    case 'readonly': return `mount("${op.target}", "${op.target}", NULL, MS_BIND|MS_REC) + remount MS_RDONLY`;
    case 'remount': return `mount(NULL, "${op.target}", NULL, ${flagNames(MS.REMOUNT | op.flags)})`;
    case 'mknod': return `mknod("${op.target}", ${op.type === 'b' ? 'S_IFBLK' : op.type === 'p' ? 'S_IFIFO' : 'S_IFCHR'}|0${op.mode.toString(8)}, makedev(${op.major}, ${op.minor}))`;
  }
}

/** The plan's lines, with runs of masks and read-only paths on one line each. */
function planLines(ops: MountOp[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (op.kind !== 'mask' && op.kind !== 'readonly') {
      out.push(mountLine(op));
      continue;
    }
    const run: string[] = [];
    for (; i < ops.length && ops[i].kind === op.kind; i++) run.push(ops[i].target);
    i--;
    out.push(op.kind === 'mask'
      ? `mask (an empty read-only tmpfs, or /dev/null, mounted over): ${run.join(' ')}`
      : `read-only (bind onto itself, remount MS_RDONLY): ${run.join(' ')}`);
  }
  return out;
}

export function rootSteps(pid: number, spec: SandboxSpec): Step[] {
  const r = spec.rootfs;
  return [{
    step: 'mounts',
    what: [
      'mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)',
      `mount("${r}", "${r}", NULL, MS_BIND|MS_REC)`,
      ...planLines(spec.mounts),
      ...(spec.security.readonlyRootfs ? [`mount(NULL, "${r}", NULL, MS_BIND|MS_REMOUNT|MS_RDONLY)`] : []),
    ],
    why: `From inside the new mount namespace (targets are under ${r}): first nothing may propagate back to the host; then the container gets its own /proc (its own PIDs), /sys, a small /dev with only harmless devices, its /etc/hosts, hostname and resolv.conf, and the host's sensitive kernel files masked or made read-only.`,
    see: `findmnt -N ${pid}`,
    values: { rootfs: r, mounts: spec.mounts, readonlyRootfs: spec.security.readonlyRootfs },
  }, {
    step: 'hostname',
    what: [`sethostname("${spec.hostname}")`],
    why: 'The hostname belongs to the UTS namespace, so this changes the container\'s name only.',
    see: `nsenter -t ${pid} -u hostname`,
    values: { hostname: spec.hostname },
  }, {
    step: 'pivot_root',
    what: [`chdir("${r}")`, 'pivot_root(".", ".")', 'umount2(".", MNT_DETACH)', 'chdir("/")'],
    why: `The overlay directory ${r} becomes "/" for the container's mount namespace. The old root (the host's) is stacked on top and then detached, so no path leads back to the host's files.`,
    see: `ls -l /proc/${pid}/root/`,
    values: { rootfs: r },
  }];
}

export function capabilityNames(maskHex: string): { kept: string[]; dropped: string[] } {
  const mask = BigInt(`0x${maskHex || '0'}`);
  const kept = CAPS.filter((_, i) => mask & (1n << BigInt(i)));
  return { kept, dropped: CAPS.filter((c) => !kept.includes(c)) };
}

export interface SeccompSummary { profile: string; rules: number; defaultAction: string; instructions: number }

export function securitySteps(pid: number, security: SecuritySpec, p: ProcessSpec, seccomp: SeccompSummary | null): Step[] {
  const { kept, dropped } = capabilityNames(security.caps);
  return [{
    step: 'capabilities',
    what: [`capset + PR_CAPBSET_DROP: keep ${kept.length}: ${kept.join(' ') || '(none)'}`, `drop ${dropped.length}: ${dropped.join(' ')}`],
    why: 'Root\'s powers are split into capabilities. The container keeps only these (bounding, permitted and effective sets; inheritable and ambient empty), so its root cannot load modules, change the clock or mount filesystems.',
    see: `grep Cap /proc/${pid}/status`,
    values: { kept, dropped },
  }, seccomp ? {
    step: 'seccomp',
    what: [`seccomp(SECCOMP_SET_MODE_FILTER): ${seccomp.instructions} BPF instructions from ${seccomp.rules} rules (${seccomp.profile} profile); default action ${seccomp.defaultAction}`],
    why: 'A seccomp filter is a small program the kernel runs on every system call the container makes; calls it refuses (kexec_load, keyctl, namespace-making clone flags, ...) fail with EPERM.',
    see: `grep Seccomp /proc/${pid}/status`,
    values: seccomp as unknown as Record<string, unknown>,
  } : {
    step: 'seccomp',
    what: ['(no seccomp filter: unconfined)'],
    why: 'This container runs without a system call filter (--privileged or seccomp=unconfined).',
    see: `grep Seccomp /proc/${pid}/status`,
    values: { profile: 'unconfined', rules: 0, defaultAction: null, instructions: 0 },
  }, {
    step: 'user',
    what: [
      ...(security.noNewPrivs ? ['prctl(PR_SET_NO_NEW_PRIVS, 1)'] : []),
      `setgroups([${p.groups.join(', ')}]); setresgid(${p.gid}); setresuid(${p.uid})`,
      `chdir("${p.cwd}")`,
    ],
    why: `The command runs as uid ${p.uid}, gid ${p.gid}${p.groups.length ? `, groups ${p.groups.join(',')}` : ''}.`
      + (security.noNewPrivs ? ' no_new_privs: setuid programs cannot gain privileges.' : ' no_new_privs is off (as in Docker, unless --security-opt no-new-privileges): a setuid program inside may still gain its owner\'s ids, within the capabilities above.'),
    see: `grep -E 'Uid|Gid|Groups|NoNewPrivs' /proc/${pid}/status`,
    values: { uid: p.uid, gid: p.gid, groups: p.groups, noNewPrivs: security.noNewPrivs, cwd: p.cwd },
  }];
}

/** What happens between the root being built and the command: in the order the child does it. */
export function execSteps(pid: number, spec: SandboxSpec, cg: ContainerCgroup, seccomp: SeccompSummary | null): Step[] {
  const [caps, filter, user] = securitySteps(pid, spec.security, spec.process, seccomp);
  return [filter, joinStep(cg, pid), caps, user];
}

export function createStep(id: string, dirs: { upper: string; work: string; merged: string }): Step {
  return {
    step: 'create',
    what: [`mkdir ${dirs.upper}`, `mkdir ${dirs.work}`, `mkdir ${dirs.merged}`, `write ${dirs.merged.replace(/merged$/, 'state.json')}`],
    why: 'create only makes the container\'s directories (its own writable layer, overlayfs\'s work dir, and the mount point) and its record. No process, namespace or cgroup exists until start.',
    see: `skiff inspect ${id.slice(0, 12)}`,
    values: { id, ...dirs },
  };
}

/** skiff exec: the new process joins PID 1's namespaces instead of making its own. */
export function setnsStep(pid: number, middle: number, namespaces: string[]): Step {
  const inodes: Record<string, number | undefined> = {};
  for (const ns of namespaces) inodes[ns] = nsInode(pid, ns);
  return {
    step: 'setns',
    what: [`fork() = ${middle}`, ...namespaces.map((ns) => `setns(open("/proc/${pid}/ns/${ns}"), 0): ${ns} namespace ${inodes[ns]}`), 'fork() (a pid namespace applies to children only)'],
    why: `exec makes no namespace: a helper process (host PID ${middle}) enters each namespace of the container's PID 1 (${pid}), the user namespace first (it grants the right to join the rest), the mount namespace last. Its child is then a process of the container like any other.`,
    see: `ls -l /proc/${pid}/ns`,
    values: { pid, middle, namespaces: inodes },
  };
}

export function joinStep(cg: ContainerCgroup, pid: number): Step {
  return {
    step: 'cgroup-join',
    what: cg.hierarchies.map((h) => `write "${pid}" > ${join(h.dir, 'cgroup.procs')}`),
    why: 'The process moves into the container\'s cgroup before it runs the command: from now on its memory, CPU and process count are accounted and limited there, and so are its children.',
    see: `cat /proc/${pid}/cgroup`,
    values: { pid, files: cg.hierarchies.map((h) => join(h.dir, 'cgroup.procs')) },
  };
}

export function execveStep(pid: number, path: string, argv: string[], env: number, cgroupns?: number): Step {
  return {
    step: 'execve',
    what: [`execve("${path}", ${JSON.stringify(argv)}, [${env} variables])${cgroupns ? ` after unshare(CLONE_NEWCGROUP) (cgroup namespace ${cgroupns})` : ''}`],
    why: `The prepared process becomes the command. Inside it is PID 1; on the host it is PID ${pid}.`
      + (cgroupns ? ' Its cgroup namespace makes its own cgroup look like the root.' : ''),
    see: `ps -o pid,user,args -p ${pid}`,
    values: { pid, path, argv, cgroupns: cgroupns ?? null },
  };
}

/** What finalize() (and --rm) undo for REC, read before they run. */
export function cleanupLines(rec: ContainerRecord, merged: string, removedDir?: string): string[] {
  const ip = rec.NetworkSettings?.IPAddress;
  return [
    ...(rec.Skiff.CgroupPaths ?? []).map((d) => `rmdir ${d}`),
    `umount2("${merged}", MNT_DETACH)`,
    ...(ip ? [`ip link del ${vethName(rec.Id)}; release the lease of ${ip}`] : []),
    ...(removedDir ? [`rm -r ${removedDir}`] : []),
  ];
}

export function rollbackStep(id: string, error: string): Step {
  return {
    step: 'rollback',
    what: [`failed: ${error}`, 'kill and reap the first process, if any; rmdir the cgroup; release the network; umount2 the overlay'],
    why: 'The start failed, so everything made for it so far is undone, newest first: the host is left as it was before.',
    see: `skiff ps -a --filter id=${id.slice(0, 12)}`,
    values: { id, error },
  };
}

/** run -d / start: the launcher's last word; the monitor narrates nothing after the start. */
export function detachedStep(id: string, pid: number, monitor: number | undefined): Step {
  return {
    step: 'detached',
    what: [`the container runs as host PID ${pid}; its monitor${monitor ? ` (PID ${monitor}, its parent)` : ''} waits for it in the background`],
    why: 'The command returns while the container runs on. When PID 1 exits, the monitor records the exit status and removes the cgroup, the overlay mount and the network endpoint.',
    see: `skiff wait ${id.slice(0, 12)}`,
    values: { id, pid, monitor: monitor ?? null },
  };
}

export function exitStep(id: string, code: number, oom: boolean, cleanup: string[]): Step {
  const signal = code > 128 ? code - 128 : 0;
  return {
    step: 'exit',
    what: [`waitpid() = exit status ${code}${signal ? ` (signal ${signal})` : ''}${oom ? ' (OOM-killed)' : ''}`, ...cleanup],
    why: !cleanup.length ? 'The command ended. The container runs on: its namespaces belong to its PID 1.'
      : 'PID 1 ended; the kernel destroyed its namespaces with it. What skiff made outside them is undone: the cgroup, the overlay mount, the network endpoint'
      + (cleanup.some((c) => c.startsWith('rm ')) ? ', and with --rm the container\'s directory.' : '; the container\'s upper dir stays, so a restart finds its files.'),
    see: cleanup.some((c) => c.startsWith('rm ')) ? 'skiff ps -a' : `skiff inspect -f '{{.State.ExitCode}}' ${id.slice(0, 12)}`,
    values: { code, signal, oom, cleanup },
  };
}
