#!/bin/busybox sh
# Stage 1 of the VM lane's guest (PID 1 in the initramfs): load the virtio,
# 9p and overlay modules, mount the host's / (read-only, virtio-9p) as the
# lower layer of an overlay whose upper is a tmpfs, and switch_root into it.
# Stage 2 (stage2.sh) then runs from the host's files.
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_mmio 9pnet 9pnet_virtio netfs fscache 9p overlay; do
  insmod /lib/modules/$m.ko || echo "[stage1] insmod $m failed"
done
# The 9p device may appear a little after its module loads: retry the mount.
for i in 1 2 3 4 5 6 7 8 9 10; do
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower && break
  sleep 0.2
done
grep -q " /lower 9p " /proc/mounts || { echo "[stage1] 9p mount FAILED"; poweroff -f; }
mount -t tmpfs -o size=2g,mode=0755 ovl /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work /newroot || { echo "[stage1] overlay FAILED"; poweroff -f; }
mkdir -p /newroot/mnt/hostroot
mount --move /lower /newroot/mnt/hostroot
mount --move /dev /newroot/dev
umount /proc /sys
echo "[stage1] switching root"
exec switch_root /newroot /bin/bash "${stage2:?the kernel command line must name stage2=PATH}"
