// The lessons of `skiff tour`: each runs real commands on the host and in a
// container, shows both, says what the kernel did, and checks the claim it
// makes against the output (a lesson whose claim does not hold fails). The
// same data renders docs/tour.md (`skiff tour --markdown`).

/** Where a command runs: a shell on the host, `skiff ARGS` (the CLI itself), or an HTTP GET of 127.0.0.1:PORT from the host. */
export type Cmd = { host: string } | { skiff: string[] } | { get: number };

export interface Step {
  /** What to look at, in plain words. */
  say: string;
  run: Cmd[];
  /** The claim this step makes, checked against the outputs of `run` (same order). */
  claim?: { text: string; holds(out: Output[]): boolean };
}

export interface Output { code: number; stdout: string; stderr: string }

export interface Lesson {
  name: string;
  title: string;
  /** What the kernel does here, for someone who knows what a process is. */
  kernel: string;
  steps: Step[];
  exercise: string;
}

/** Values a tour run fills in (a free port, the cgroup layout). */
export interface TourContext {
  port: number;
  cgroupV2: boolean;
}

const trim = (o: Output) => o.stdout.trim();
const inode = (s: string) => /\[(\d+)\]/.exec(s)?.[1];

export function lessons(ctx: TourContext): Lesson[] {
  const memFile = ctx.cgroupV2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
  return [
    {
      name: 'uts',
      title: 'UTS namespace: a hostname of its own',
      kernel: 'clone(CLONE_NEWUTS) gives the container a copy of the host name and domain name; sethostname() inside changes only the copy.',
      steps: [{
        say: 'The host\'s name, then the name inside a container started with -h tour-box:',
        run: [{ host: 'hostname' }, { skiff: ['run', '--rm', '--network', 'none', '-h', 'tour-box', 'busybox', 'hostname'] }],
        claim: { text: 'the container is called tour-box and the host is not', holds: ([h, c]) => trim(c) === 'tour-box' && trim(h) !== 'tour-box' },
      }],
      exercise: 'Run `skiff run --rm -it busybox sh`, then `hostname other` inside, and `hostname` on the host in another terminal.',
    },
    {
      name: 'pid',
      title: 'PID namespace: the command is PID 1',
      kernel: 'clone(CLONE_NEWPID) starts a new numbering: the first process in it is PID 1 and sees only its descendants in a /proc mounted from inside.',
      steps: [{
        say: 'The PID of this shell on the host, then the PID the container\'s shell sees for itself, and what ps shows inside:',
        run: [{ host: 'echo $$' }, { skiff: ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo $$; ps -o pid,comm; true'] }],
        claim: {
          text: 'PID 1 inside is the command, and ps inside lists only the container\'s own processes: sh (PID 1) and ps',
          holds: ([h, c]) => {
            const [self, , ...procs] = trim(c).split('\n').map((l) => l.trim());
            return trim(h) !== '1' && self === '1' && procs.length === 2 && procs[0] === '1 sh' && /^\d+ ps$/.test(procs[1]);
          },
        },
      }],
      exercise: 'Start `skiff run -d busybox sleep 600`, find its PID with `skiff inspect -f {{.State.Pid}}`, and compare `ps -p PID` on the host with `ps` inside (skiff exec).',
    },
    {
      name: 'mnt',
      title: 'Mount namespace: a mount table of its own',
      kernel: 'clone(CLONE_NEWNS) copies the host\'s mount table; skiff makes it private, mounts /proc, /sys, /dev and the rest into the container\'s root, then pivots into it.',
      steps: [{
        say: 'The first line of the host\'s mount table and of the container\'s (/proc/self/mountinfo):',
        run: [{ host: 'head -1 /proc/self/mountinfo' }, { skiff: ['run', '--rm', '--network', 'none', 'busybox', 'head', '-1', '/proc/self/mountinfo'] }],
        claim: { text: 'the container\'s / is an overlay mount the host\'s table does not start with', holds: ([h, c]) => / \/ .* - overlay /.test(trim(c)) && trim(h) !== trim(c) },
      }],
      exercise: 'Compare `findmnt -N PID` for a running container with `findmnt` on the host.',
    },
    {
      name: 'ipc',
      title: 'IPC namespace: separate message queues and shared memory',
      kernel: 'clone(CLONE_NEWIPC) gives System V IPC objects and POSIX message queues their own namespace: a queue made on the host is invisible inside.',
      steps: [{
        say: 'The IPC namespace of this shell and of the container (the number is the namespace\'s inode):',
        run: [{ host: 'readlink /proc/self/ns/ipc' }, { skiff: ['run', '--rm', '--network', 'none', 'busybox', 'readlink', '/proc/self/ns/ipc'] }],
        claim: { text: 'the two inodes differ', holds: ([h, c]) => !!inode(trim(h)) && !!inode(trim(c)) && inode(trim(h)) !== inode(trim(c)) },
      }],
      exercise: 'Make a queue with `ipcmk -Q` on the host; run `ipcs -q` on the host and inside a container.',
    },
    {
      name: 'net',
      title: 'Network namespace: its own interfaces',
      kernel: 'clone(CLONE_NEWNET) starts with only a loopback interface; skiff adds a veth pair to reach its bridge unless --network none.',
      steps: [{
        say: 'The host\'s interfaces, then a container\'s with --network none:',
        run: [{ host: 'ls /sys/class/net' }, { skiff: ['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'] }],
        claim: { text: 'the container has only lo', holds: ([h, c]) => trim(c) === 'lo' && trim(h).split(/\s+/).length > 1 },
      }],
      exercise: 'Run a container on the default bridge and compare `ip addr` inside with `skiff ns NAME` and `nsenter -t PID -n ip addr` on the host.',
    },
    {
      name: 'user',
      title: 'User namespace: root inside, nobody outside',
      kernel: 'clone(CLONE_NEWUSER) plus a uid_map makes uid 0 inside a different, unprivileged uid on the host. skiff uses it with --userns-remap.',
      steps: [{
        say: 'The uid map of a default container (shared with the host), then with --userns-remap:',
        run: [
          { skiff: ['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/self/uid_map'] },
          { skiff: ['run', '--rm', '--network', 'none', '--userns-remap', 'busybox', 'cat', '/proc/self/uid_map'] },
        ],
        claim: { text: 'with --userns-remap, uid 0 inside is uid 100000 on the host', holds: ([d, r]) => /^0\s+0\s+4294967295$/.test(trim(d)) && /^0\s+100000\s+65536$/.test(trim(r)) },
      }],
      exercise: 'Start `skiff run -d --userns-remap busybox sleep 600` and look at its process with `ps -o user,pid,comm -p PID` on the host.',
    },
    {
      name: 'cgroup',
      title: 'cgroups: limits the kernel enforces',
      kernel: 'skiff makes a cgroup directory for the container, writes its limits (memory.max, pids.max, cpu.max, …) and moves PID 1 into it; the kernel counts and stops what goes over.',
      steps: [
        {
          say: `The memory limit as the container sees it (${memFile}) with -m 32m:`,
          run: [{ skiff: ['run', '--rm', '--network', 'none', '-m', '32m', 'busybox', 'cat', memFile] }],
          claim: { text: 'the limit is 33554432 bytes', holds: ([c]) => trim(c) === '33554432' },
        },
        {
          say: 'A program that writes 64 MiB into memory under that limit:',
          run: [{ skiff: ['run', '--rm', '--network', 'none', '-m', '32m', '--memory-swap', '32m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'] }],
          claim: { text: 'the kernel OOM-kills it: exit status 137', holds: ([c]) => c.code === 137 },
        },
      ],
      exercise: 'Try --pids-limit 5 with `sh -c "for i in 1 2 3 4 5 6; do sleep 9 & done"` and read the error.',
    },
    {
      name: 'overlay',
      title: 'overlayfs: a writable layer over read-only image layers',
      kernel: 'mount("overlay") stacks the image\'s layers (lowerdir, read-only) under a per-container upperdir; writes land in the upper dir, the image is never changed.',
      steps: [{
        say: 'A container writes /hello; a second container from the same image looks for it:',
        run: [
          { skiff: ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo hi > /hello && cat /hello'] },
          { skiff: ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat /hello 2>&1 || true'] },
        ],
        claim: { text: 'the first sees its file, the second does not: the image stayed as it was', holds: ([a, b]) => trim(a) === 'hi' && /No such file/.test(b.stdout) },
      }],
      exercise: 'Run `skiff run --name w busybox touch /new`, then find the file under `skiff inspect -f {{.GraphDriver.Data.UpperDir}} w` on the host.',
    },
    {
      name: 'pivot_root',
      title: 'pivot_root: the host\'s files are gone',
      kernel: 'pivot_root(".", ".") makes the container\'s root the root of its mount namespace; unmounting the old root with MNT_DETACH leaves no path back to the host.',
      steps: [{
        say: 'Mounts whose mount point is / inside a container, and the host\'s /etc/os-release seen from inside:',
        run: [{ skiff: ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', "awk '$5 == \"/\"' /proc/self/mountinfo | wc -l; test -e /etc/os-release && echo present || echo absent"] }],
        claim: { text: 'one root mount (the overlay), and the host\'s /etc/os-release is not reachable', holds: ([c]) => trim(c) === '1\nabsent' },
      }],
      exercise: 'Compare `ls /` inside with `ls $(skiff inspect -f {{.GraphDriver.Data.MergedDir}} NAME)` on the host while it runs.',
    },
    {
      name: 'capabilities',
      title: 'Capabilities and seccomp: root without root\'s powers',
      kernel: 'Root inside keeps 14 capabilities (CapEff a80425fb); without CAP_SYS_ADMIN, and with the seccomp filter refusing mount(2), mounting fails even for uid 0.',
      steps: [
        {
          say: 'The effective capability set inside, and an attempt to mount a tmpfs:',
          run: [{ skiff: ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir -p /mnt; grep CapEff /proc/self/status; mount -t tmpfs x /mnt 2>&1; echo exit=$?'] }],
          claim: { text: 'CapEff is 00000000a80425fb and mount is refused', holds: ([c]) => /CapEff:\s+00000000a80425fb/.test(c.stdout) && /exit=[1-9]/.test(c.stdout) },
        },
        {
          say: 'The same with --cap-add SYS_ADMIN and no seccomp filter:',
          run: [{ skiff: ['run', '--rm', '--network', 'none', '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined', 'busybox', 'sh', '-c', 'mkdir -p /mnt && mount -t tmpfs x /mnt && echo mounted'] }],
          claim: { text: 'now the mount works', holds: ([c]) => trim(c) === 'mounted' },
        },
      ],
      exercise: 'Use `--cap-drop ALL` and try `chown nobody /tmp`; read docs/security.md for the seccomp rules.',
    },
    {
      name: 'bridge',
      title: 'The bridge and a published port',
      kernel: 'A veth pair joins the container\'s network namespace to the bridge; -p adds DNAT rules in skiff\'s nftables table so that a host port reaches the container.',
      steps: [{
        say: `A web server in a container published on 127.0.0.1:${ctx.port}, fetched from the host:`,
        run: [
          { skiff: ['run', '-d', '--name', 'tour-web', '-p', `127.0.0.1:${ctx.port}:80`, 'busybox', 'sh', '-c', 'mkdir -p /w && echo hello-from-the-tour > /w/index.html && exec httpd -f -p 80 -h /w'] },
          { get: ctx.port },
          { skiff: ['rm', '-f', 'tour-web'] },
        ],
        claim: { text: 'the page answers through the published port', holds: ([, page]) => trim(page) === 'hello-from-the-tour' },
      }],
      exercise: `While it runs, look at \`nft list ruleset\` for skiff's table and at \`skiff port tour-web\`.`,
    },
  ];
}
