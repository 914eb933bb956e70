#!/bin/bash
# Stage 2 of the VM lane's guest: PID 1 after switch_root, the host's bash
# over 9p. Sets up a cgroup-v2-only system (the kernel was booted with
# cgroup_no_v1=all), runs the job script named by job= on the kernel command
# line, and powers off. No network device exists: the guest reaches only itself.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
# Where containers keep their overlays: overlayfs cannot use the root overlay
# as an upper layer. /tmp and /var/lib/skiff live on the scratch ext4 disk
# (/dev/vdb), because 6.1 cannot idmap tmpfs (--userns-remap); /run is a tmpfs.
# (This hides the host's /tmp: see repo= below.)
modprobe virtio_blk
modprobe ext4 2>/dev/null
mkdir -p /scratch /tmp /run /var/lib/skiff
mount -t tmpfs -o mode=0755 tmpfs /run
if mount -t ext4 /dev/vdb /scratch 2>/dev/null; then
  mkdir -p /scratch/tmp /scratch/skiff
  mount --bind /scratch/tmp /tmp
  mount --bind /scratch/skiff /var/lib/skiff
else
  echo "[stage2] no scratch disk: /tmp and /var/lib/skiff on tmpfs (no --userns-remap)"
  for d in /tmp /var/lib/skiff; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done
fi
chmod 1777 /tmp
mkdir -p /dev/pts /dev/shm /run/lock
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
[ -e /dev/ptmx ] || ln -sf pts/ptmx /dev/ptmx
hostname skiff-vm
ip link set lo up
# The 1 MiB test disk (/dev/vda, 254:0) whose first bytes are SECRET-DISK-DATA: a device test's real target.
arg() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# Like systemd's init.scope: PID 1 leaves the root cgroup, so that the root can
# hand memory, cpu and pids down (v2's "no internal processes" rule). The tests
# then start in /init, a non-root cgroup that has processes, as a root shell in
# a session scope does; skiffcg=root keeps everything in the root cgroup instead.
if [[ $(arg skiffcg) != root ]]; then
  mkdir -p /sys/fs/cgroup/init
  echo 1 > /sys/fs/cgroup/init/cgroup.procs
fi
echo "+memory +cpu +pids" > /sys/fs/cgroup/cgroup.subtree_control
# A checkout under /tmp is hidden by the tmpfs above: give it back, writable, as its own overlay.
REPO=$(arg repo)
if [[ $REPO == /tmp/* && -d /mnt/hostroot$REPO ]]; then
  mkdir -p "$REPO" /run/repo-upper /run/repo-work
  mount -t overlay overlay -o "lowerdir=/mnt/hostroot$REPO,upperdir=/run/repo-upper,workdir=/run/repo-work" "$REPO"
fi
echo "[stage2] uptime $(cut -d' ' -f1 /proc/uptime) s; cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
JOB=$(arg job)
[ -f "$JOB" ] || JOB=/mnt/hostroot$JOB
bash "$JOB" &
wait $!
echo "[stage2] job exited $?; uptime $(cut -d' ' -f1 /proc/uptime) s"
sync
/bin/busybox poweroff -f
