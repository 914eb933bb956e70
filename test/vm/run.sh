#!/usr/bin/env bash
# The cgroup-v2 VM lane. Boots Debian's own kernel (linux-image-amd64) under
# qemu with cgroup v2 only (cgroup_no_v1=all) and no network device. The
# guest's / is this machine's / (read-only over virtio-9p, under a tmpfs
# overlay), so the guest has this checkout, its build and Node. Inside, it runs
# test/vm/provision.sh (the Vagrant provisioning) and then the integration
# tests that depend on the cgroup version, through test/run.mjs.
#
#   bash test/vm/run.sh [TEST FILE...]   default: the cgroup, device, security, run and network tests
#
# Output ends with the guest's "N passed, N failed, N skipped" line and
# "guest /sys/fs/cgroup: cgroup2fs". Exit 0 when all passed, 1 otherwise,
# 77 when the lane cannot run here (the reason and the apt-get line are printed).
# Environment: SKIFF_VM_DIR (cache, /var/tmp/skiff-vm), SKIFF_VM_ACCEL (tcg;
# `kvm` where KVM runs stock kernels, which it does not on these machines),
# SKIFF_VM_CPUS (2), SKIFF_VM_MEM (3G), SKIFF_VM_TIMEOUT (seconds, 1500),
# SKIFF_VM_STALL (seconds without console output before a stalled guest is stopped
# and booted once more, 480), SKIFF_VM_CGROUP
# (init: the tests start in /init, a non-root cgroup with processes; root: in the root cgroup).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${SKIFF_VM_DIR:-/var/tmp/skiff-vm}
FILES=("$@")
MATCH=()
if [[ ${#FILES[@]} -eq 0 ]]; then
  # Under TCG each skiff command costs seconds, so the lane runs, of these
  # files, every test of cgroups, devices and limits (all of them depend on the
  # cgroup version), and of security, run and network those that touch the
  # kernel paths cgroup v2 changes: devices, masks, namespaces, userns, OOM,
  # pids, exec, the bridge and published ports, pause (cgroup.freeze), and verbs
  # run from another cgroup than the start. `bash test/vm/run.sh FILE...`
  # runs whole files instead.
  FILES=(dist/test/integration/{cgroups,devices,limits,security,run,network,faults}.test.js)
  MATCH=(
    '*real *' '*eBPF*' '*/dev nodes*' '*mknod*' '*--device*' "*exec'd*"
    '*limits reach*' '*busy loop*' '*/sys/fs/cgroup*' '*kill and rm -f*'
    '*masked or read-only*' '*mount, unshare -U*'
    '*each namespace differs*' '*own mounts*' '*userns-remap maps*' '*OOM-kills*' '*pids limit stops*' '*exec joins*'
    '*seed: run -d -P*' '*links: env vars*' '*pause and unpause*' '*from another cgroup*' '*stats shows*'
  )
fi

skip() { echo "vm lane skipped: $*"; exit 77; }
[[ $EUID -eq 0 ]] || skip "needs root (9p export of /, /boot, containers inside)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (apt-get install -y qemu-system-x86)"
command -v xz >/dev/null || skip "xz is not installed (apt-get install -y xz-utils)"
# The newest Debian kernel whose modules are installed: the guest loads them from the shared /.
KVER=
for k in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's#.*/vmlinuz-##' | sort -V); do
  [[ -d /lib/modules/$k/kernel ]] && KVER=$k
done
[[ -n $KVER ]] || skip "no kernel with modules in /boot (apt-get install -y linux-image-amd64)"
BUSYBOX=$(command -v busybox || true)
[[ -n $BUSYBOX ]] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || skip "no static busybox for the initramfs (apt-get install -y busybox-static)"

# --- the kernel, initramfs and test disk, built once per kernel and init.sh ---------------
key=$(cat /boot/vmlinuz-"$KVER" "$HERE/init.sh" "$BUSYBOX" | sha256sum | cut -c1-16)
ART="$OUT/$KVER-$key"
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9   # two lanes at once (two checkouts) build the same artifacts only once
if [[ ! -f $ART/done ]]; then
  rm -rf "$ART"; mkdir -p "$ART/initramfs"/{bin,dev,proc,sys,lower,ovl,newroot,lib/modules}
  # microvm boots an ELF kernel; a bzImage also works, through qboot, but takes ~10 s more under TCG.
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "/boot/vmlinuz-$KVER" | head -1 | cut -d: -f1)
  [[ -n $off ]] || { echo "vm lane: /boot/vmlinuz-$KVER is not xz-compressed" >&2; exit 1; }
  tail -c +$((off + 1)) "/boot/vmlinuz-$KVER" | xz -dc --single-stream >"$ART/vmlinux" 2>/dev/null || true
  [[ $(head -c4 "$ART/vmlinux" | od -An -c | tr -d ' ') == 177ELF ]] || { echo "vm lane: no ELF kernel in /boot/vmlinuz-$KVER" >&2; exit 1; }
  cp "$BUSYBOX" "$ART/initramfs/bin/busybox"
  M=/lib/modules/$KVER/kernel
  for k in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_mmio \
           net/9p/9pnet net/9p/9pnet_virtio fs/netfs/netfs fs/fscache/fscache fs/9p/9p fs/overlayfs/overlay; do
    if [[ -f $M/$k.ko ]]; then cp "$M/$k.ko" "$ART/initramfs/lib/modules/"
    elif [[ -f $M/$k.ko.xz ]]; then xz -dc "$M/$k.ko.xz" >"$ART/initramfs/lib/modules/$(basename "$k").ko"
    fi   # else built into this kernel
  done
  install -m 755 "$HERE/init.sh" "$ART/initramfs/init"
  (cd "$ART/initramfs" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null >../initramfs.cpio)
  # 1 MiB whose first bytes are SECRET-DISK-DATA: /dev/vda in the guest.
  { printf 'SECRET-DISK-DATA'; head -c $((1048576 - 16)) /dev/zero; } >"$ART/disk.img"
  rm -rf "$ART/initramfs"
  touch "$ART/done"
fi
flock -u 9

# --- the job the guest runs ---------------------------------------------------------------
# Outside /tmp, which the guest replaces with its own tmpfs.
mkdir -p "$OUT/jobs"
find "$OUT/jobs" -type f -mmin +1440 -delete 2>/dev/null || true
JOB=$(mktemp "$OUT/jobs/job-XXXXXX.sh")
LOG="${JOB%.sh}.log"
# Copies: bash reads a script as it runs, so an edit of the checkout during a run must not reach PID 1.
STAGE2="${JOB%.sh}-stage2.sh"
cp "$HERE/stage2.sh" "$STAGE2"
# A scratch ext4 disk (/dev/vdb) for /tmp and /var/lib/skiff: Debian 12's 6.1
# kernel cannot idmap tmpfs (--userns-remap's layers need MOUNT_ATTR_IDMAP).
SCRATCH="${JOB%.sh}-scratch.img"
trap 'rm -f "$JOB" "$STAGE2" "$SCRATCH"' EXIT
{
  echo "#!/bin/bash"
  echo "export CI=${CI:-} SKIFF_IN_VM=1 SKIFF_TEST_DISK=/dev/vda SKIFF_TEST_TIMEOUT_MS=600000"
  printf 'cd %q\n' "$REPO"
  printf 'files=(%s)\n' "$(printf '%q ' "${FILES[@]}")"
  printf 'matches=(%s)\n' "$( ((${#MATCH[@]})) && printf -- '--match=%q ' "${MATCH[@]}")"
  cat "$HERE/guest.sh"
} >"$JOB"

# Under TCG the kernel can hang calibrating the TSC against the PIT; telling it the rate avoids that.
KHZ=${TSC_KHZ:-$(awk -F: '/^cpu MHz/{printf "%d", $2*1000; exit}' /proc/cpuinfo)}
ACCEL=${SKIFF_VM_ACCEL:-tcg}
[[ $ACCEL == tcg ]] && ACCEL=tcg,thread=multi
STALL=${SKIFF_VM_STALL:-480}

# One boot of the guest. Its console goes to the terminal and to $LOG. A
# watcher stops the guest when nothing but guest-diag lines has reached the
# console for $STALL seconds (no test lasts that long under TCG), so a hung
# guest costs minutes, not the whole timeout. Sets qemu_rc and stalled.
boot() {
  rm -f "$LOG" "$LOG.rc" "$LOG.pid"
  truncate -s 6G "$SCRATCH"
  mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$SCRATCH"
  { timeout --foreground -k 10 "${SKIFF_VM_TIMEOUT:-1500}" qemu-system-x86_64 \
      -M microvm -accel "$ACCEL" -cpu qemu64 -smp "${SKIFF_VM_CPUS:-2}" -m "${SKIFF_VM_MEM:-3G}" \
      -nodefaults -no-user-config -display none -serial stdio -no-reboot -pidfile "$LOG.pid" \
      -kernel "$ART/vmlinux" -initrd "$ART/initramfs.cpio" \
      -append "console=ttyS0 loglevel=3 panic=-1 cgroup_no_v1=all tsc_early_khz=$KHZ rdinit=/init stage2=$STAGE2 job=$JOB repo=$REPO skiffcg=${SKIFF_VM_CGROUP:-init}" \
      -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
      -device virtio-9p-device,fsdev=r,mount_tag=hostroot \
      -drive file="$ART/disk.img",format=raw,if=none,id=d0,readonly=on \
      -device virtio-blk-device,drive=d0 \
      -drive file="$SCRATCH",format=raw,if=none,id=d1,cache=unsafe \
      -device virtio-blk-device,drive=d1 \
      </dev/null; echo $? >"$LOG.rc"; } 2>&1 | sed -u 's/\r$//' | tee "$LOG" &
  local pipe=$! lines=-1 idle=0 now
  stalled=0
  while kill -0 "$pipe" 2>/dev/null; do
    sleep 5
    now=$(grep -cv '^guest-diag' "$LOG" 2>/dev/null || true)
    if [[ $now != "$lines" ]]; then lines=$now; idle=0; else idle=$((idle + 5)); fi
    if (( idle >= STALL )); then
      echo "vm lane: no output from the guest for $STALL s: stopping it"
      stalled=1
      kill "$(cat "$LOG.pid" 2>/dev/null)" 2>/dev/null || true
      break
    fi
  done
  wait "$pipe" 2>/dev/null || true
  qemu_rc=$(cat "$LOG.rc" 2>/dev/null || echo 1)
  rm -f "$LOG.rc" "$LOG.pid"
}

echo "vm lane: kernel $KVER, $ACCEL, ${SKIFF_VM_CPUS:-2} cpus; console log $LOG"
start=$(date +%s)
set +e
boot
if (( stalled )); then
  # Seen once in CI: the guest printed "TAP version 13" and then nothing while
  # qemu kept both cores busy. The stalled boot's log is kept; one more boot
  # decides, and both are reported.
  mv "$LOG" "${LOG%.log}-stalled.log"
  echo "vm lane: the guest stalled (its console log: ${LOG%.log}-stalled.log); booting it once more"
  boot
  if (( stalled )); then echo "vm lane: the guest stalled again"; fi
fi
set -e
# CPU time says more than wall time on a shared machine: on idle cores, wall ≈ CPU / cores.
times >"$JOB.times"   # not in $( ): a subshell has no children of its own
cpu=$(tail -1 "$JOB.times"); rm -f "$JOB.times"
echo "vm lane: qemu exited $qemu_rc after $(( $(date +%s) - start )) s wall; CPU used (user sys): $cpu"

counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -1 || true)
cgfs=$(sed -n 's/^guest \/sys\/fs\/cgroup: //p' "$LOG" | tail -1)
if [[ -z $counts ]]; then
  # The guest did not finish (timeout, crash): count the results it did print, plus one failure.
  p=$(grep -cE '^ok [0-9]+' "$LOG" || true); s=$(grep -cE '^ok [0-9]+.*# SKIP' "$LOG" || true); f=$(grep -cE '^not ok [0-9]+' "$LOG" || true)
  echo "vm lane: the guest did not finish its tests"
  counts="$((p - s)) passed, $((f + 1)) failed, $s skipped"
fi
echo "$counts"
echo "guest /sys/fs/cgroup: ${cgfs:-unknown}"
[[ $counts =~ \ 0\ failed && $cgfs == cgroup2fs ]]
