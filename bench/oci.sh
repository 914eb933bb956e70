#!/usr/bin/env bash
# skiff-runc benchmark (issue 12), side by side in one run, as whole processes:
#   (a) `RUNTIME run` of a busybox bundle running /bin/true: skiff-runc, runc, crun
#       (crun inside `unshare -m` with /sys/fs/cgroup/unified unmounted: it
#       refuses the hybrid layout of these machines);
#   (b) `podman --runtime RUNTIME run --rm --network none busybox true`: skiff-runc, runc.
# Medians of N rounds, and the ratio to runc. This is a benchmark, not a test:
# it prints numbers, it does not judge them. The project's goal: (b) <= 1.3x.
#
# Usage: bench/oci.sh        (N=10)
#        N=5 bench/oci.sh
# Everything it creates (bundle, state roots, a private podman store) lives in
# one temp dir, removed at exit.
set -euo pipefail
N="${N:-10}"
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
skiff="$here/dist/bin/runc.cjs"
fixtures="$here/rootfs-fixtures/out"
[[ -x $skiff ]] || { echo "build first: npm run build" >&2; exit 1; }
bash "$here/rootfs-fixtures/busybox.sh" >/dev/null

dir="$(mktemp -d /tmp/skiff-bench-oci.XXXXXX)"
podman_base=(podman --root "$dir/podman/root" --runroot "$dir/podman/run" --storage-driver vfs --cgroup-manager cgroupfs
  --events-backend file --tmpdir "$dir/podman/tmp")
cleanup() {
  if command -v podman >/dev/null; then
    "${podman_base[@]}" rm --all --force >/dev/null 2>&1 || true
    "${podman_base[@]}" system reset --force >/dev/null 2>&1 || true
  fi
  grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

mkdir -p "$dir/bundle"
cp -a "$fixtures/rootfs" "$dir/bundle/rootfs"
"$skiff" spec --bundle "$dir/bundle"
node -e '
  const f = process.argv[1], c = JSON.parse(require("fs").readFileSync(f));
  c.process.terminal = false; c.process.args = ["true"];
  require("fs").writeFileSync(f, JSON.stringify(c));' "$dir/bundle/config.json"

# median of N runs of "$@", in seconds
median() {
  local times=()
  for ((i = 0; i < N; i++)); do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
    e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.3f\n", m / 1e6}'
}

n=0
run_bundle() { n=$((n + 1)); "$@" run --bundle "$dir/bundle" "b$n"; }

echo "== (a) RUNTIME run, busybox bundle, /bin/true (median of $N)"
t_runc=$(median run_bundle runc --root "$dir/runc")
t_skiff=$(median run_bundle "$skiff" --root "$dir/skiff")
printf '%-12s %s s\n' runc "$t_runc" skiff-runc "$t_skiff"
if command -v crun >/dev/null; then
  crun_run() { n=$((n + 1)); unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; crun --root '$dir/crun' run --bundle '$dir/bundle' c$n"; }
  t_crun=$(median crun_run) && printf '%-12s %s s\n' 'crun*' "$t_crun"
fi
echo "skiff-runc / runc: $(awk -v a="$t_skiff" -v b="$t_runc" 'BEGIN {printf "%.2f", a / b}')x"

if command -v podman >/dev/null; then
  echo "== (b) podman --runtime RUNTIME run --rm --network none busybox true (median of $N)"
  "${podman_base[@]}" load -i "$fixtures/busybox.tar" >/dev/null
  pm() { "${podman_base[@]}" --runtime "$1" run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 busybox true; }
  p_runc=$(median pm "$(command -v runc)")
  p_skiff=$(median pm "$skiff")
  printf '%-12s %s s\n' runc "$p_runc" skiff-runc "$p_skiff"
  echo "podman+skiff-runc / podman+runc: $(awk -v a="$p_skiff" -v b="$p_runc" 'BEGIN {printf "%.2f", a / b}')x"
fi
