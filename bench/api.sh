#!/usr/bin/env bash
# The Engine API benchmark: `docker run --rm --network none busybox true`
# with Debian's docker CLI, side by side, as whole processes:
#   svc     - through `skiff system service` (its own socket and root)
#   cli     - `skiff run --rm --network none busybox true`, for reference
#   dockerd - through Debian's dockerd, started privately (../shared/PLATFORM.md)
#   podman  - through `podman system service` (runc, a private vfs store; the
#             ulimits this root can grant set in a private containers.conf)
# Runs are interleaved (svc, cli, dockerd, svc, ...) so that a busy moment
# of the machine falls on all of them alike. A benchmark, not a test.
#
# Usage: bench/api.sh         (N=20 timed runs per tool)
#        N=10 bench/api.sh
# Everything it makes (roots, sockets, the dockerd and its data) is removed at exit, and checked.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${N:-20}"
WARMUP=2
export LC_ALL=C
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
IMAGE_TAR="rootfs-fixtures/out/busybox.tar"
DOCKER=/usr/bin/docker
[[ $EUID -eq 0 ]] || { echo "api.sh: must run as root" >&2; exit 1; }
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "api.sh: N must be a positive integer" >&2; exit 1; }
[[ -x $DOCKER ]] || { echo "api.sh: needs Debian's docker client: apt-get install -y docker.io" >&2; exit 1; }
log() { echo "# $*" >&2; }
exec 3>&1

[[ -f dist/bin/main.cjs ]] || npm run build >&2
[[ -s "$IMAGE_TAR" ]] || bash rootfs-fixtures/busybox.sh >&2

WORK="$(mktemp -d /tmp/skiff-bench-api.XXXX)"
chmod 711 "$WORK"
export SKIFF_ROOT="$WORK/root" DOCKER_CONFIG="$WORK/docker-config"
mkdir -p "$SKIFF_ROOT" && chmod 711 "$SKIFF_ROOT"
SKIFF=("$WORK/skiff/dist/bin/main.cjs")   # the launcher, as `skiff` runs it
SVC_SOCK="$WORK/skiff.sock"
D="$WORK/dockerd"
P="$WORK/podman"
svc_pid='' dockerd_pid='' podman_pid=''
libpod_parent_existed=0; compgen -G '/sys/fs/cgroup/*/libpod_parent' >/dev/null && libpod_parent_existed=1
docker_cg_existed=0; compgen -G '/sys/fs/cgroup/*/docker' >/dev/null && docker_cg_existed=1
PODMAN=(podman --root "$P/root" --runroot "$P/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir "$P/tmp" --runtime runc)
export CONTAINERS_CONF="$WORK/containers.conf"

mounts_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }

cleanup() {
  local rc=$? problems=() left m
  set +e
  trap - EXIT INT TERM
  [[ -n $svc_pid ]] && kill "$svc_pid" 2>/dev/null && wait "$svc_pid" 2>/dev/null
  left="$("${SKIFF[@]}" ps -aq 2>/dev/null)"
  if [[ -n "$left" ]]; then
    problems+=("skiff containers left: $(echo $left)")
    # shellcheck disable=SC2086
    "${SKIFF[@]}" rm -f $left >/dev/null 2>&1
  fi
  if [[ -n $dockerd_pid ]]; then
    left="$($DOCKER -H "unix://$D/d.sock" ps -aq 2>/dev/null)"
    [[ -n "$left" ]] && problems+=("dockerd containers left") && $DOCKER -H "unix://$D/d.sock" rm -f $left >/dev/null 2>&1
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    # its containerd, if still around
    [[ -f "$D/exec/containerd/containerd.pid" ]] && kill "$(cat "$D/exec/containerd/containerd.pid")" 2>/dev/null
  fi
  if [[ -n $podman_pid ]]; then
    left="$("${PODMAN[@]}" ps -aq 2>/dev/null)"
    [[ -n "$left" ]] && problems+=("podman containers left") && "${PODMAN[@]}" rm -f $left >/dev/null 2>&1
    kill "$podman_pid" 2>/dev/null; wait "$podman_pid" 2>/dev/null
    "${PODMAN[@]}" system reset --force >/dev/null 2>&1
  fi
  # dockerd makes docker/ at the hierarchy roots, podman's cgroupfs manager libpod_parent/.
  if ((!docker_cg_existed)); then
    for d in /sys/fs/cgroup/*/docker; do [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  fi
  if ((!libpod_parent_existed)); then
    for d in /sys/fs/cgroup/*/libpod_parent; do [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  fi
  m="$(mounts_under "$WORK")"
  if [[ -n "$m" ]]; then
    problems+=("mounts left under $WORK: $(echo $m)")
    sort -r <<<"$m" | xargs -r -n1 umount -l
  fi
  if [[ -n "$(mounts_under "$WORK")" ]]; then problems+=("cannot remove $WORK: still mounted"); else rm -rf "$WORK"; fi
  report_cleanup "$rc" "service, dockerd and their state removed"
}
on_exit cleanup

private_skiff_copy "$REPO" "$WORK/skiff"
"${SKIFF[@]}" load -i "$IMAGE_TAR" >/dev/null
"${SKIFF[@]}" system service --host "unix://$SVC_SOCK" 2>"$WORK/service.log" &
svc_pid=$!

tools=(svc cli)
if command -v dockerd >/dev/null; then
  mkdir -p "$D"
  # Private and inert: its own socket and roots, no iptables rules, no bridge.
  dockerd -H "unix://$D/d.sock" --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/d.pid" \
    --iptables=false --bridge=none >"$D/log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 200); do $DOCKER -H "unix://$D/d.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  $DOCKER -H "unix://$D/d.sock" load -q -i "$IMAGE_TAR" >/dev/null
  tools+=(dockerd)
else
  log "no dockerd (apt-get install -y docker.io): measuring skiff only"
fi
if command -v podman >/dev/null; then
  # Root here lacks CAP_SYS_RESOURCE: podman's default ulimits would fail (PLATFORM.md).
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$CONTAINERS_CONF"
  "${PODMAN[@]}" load -q -i "$IMAGE_TAR" >/dev/null
  "${PODMAN[@]}" system service --time=0 "unix://$P/p.sock" 2>"$WORK/podman.log" &
  podman_pid=$!
  for _ in $(seq 200); do $DOCKER -H "unix://$P/p.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  tools+=(podman)
else
  log "no podman (apt-get install -y podman): not measuring podman's service"
fi
for _ in $(seq 100); do [[ -S $SVC_SOCK ]] && break; sleep 0.05; done

run_svc() { $DOCKER -H "unix://$SVC_SOCK" run --rm --network none busybox true; }
run_cli() { "${SKIFF[@]}" run --rm --network none busybox true; }
run_dockerd() { $DOCKER -H "unix://$D/d.sock" run --rm --network none busybox true; }
run_podman() { $DOCKER -H "unix://$P/p.sock" run --rm --network none busybox true; }
time_one() {
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  "run_$1" >/dev/null 2>"$WORK/err" || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then echo "api.sh: $1 run failed (exit $rc):" >&2; cat "$WORK/err" >&2; exit 1; fi
  echo $((${t1/./} - ${t0/./}))
}

log "warm-up: $WARMUP runs each; then $N interleaved runs of: ${tools[*]}"
for _ in $(seq $WARMUP); do for t in "${tools[@]}"; do time_one "$t" >/dev/null; done; done
for _ in $(seq "$N"); do for t in "${tools[@]}"; do echo "$(time_one "$t")" >>"$WORK/$t.us"; done; done

median() { sort -n "$1" | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.3f", m / 1e6}'; }
echo "docker run --rm --network none busybox true, median wall time of $N runs (load average: $(cut -d' ' -f1-3 /proc/loadavg)):"
for t in "${tools[@]}"; do printf '  %-8s %s s\n' "$t" "$(median "$WORK/$t.us")"; done
svc=$(median "$WORK/svc.us")
printf '  svc/cli     %.2fx\n' "$(echo "$svc / $(median "$WORK/cli.us")" | bc -l)"
[[ " ${tools[*]} " == *" dockerd "* ]] && printf '  svc/dockerd %.2fx\n' "$(echo "$svc / $(median "$WORK/dockerd.us")" | bc -l)"
[[ " ${tools[*]} " == *" podman "* ]] && printf '  svc/podman  %.2fx\n' "$(echo "$svc / $(median "$WORK/podman.us")" | bc -l)"
true
