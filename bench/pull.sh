#!/usr/bin/env bash
# Pull/push benchmark (issue 3): skiff against skopeo (+ umoci) on a
# ~52 MiB, 5-layer image (bench/make-big-image.sh) served by a local Debian
# docker-registry (Distribution 2.8) on 127.0.0.1. Whole processes, timed.
# This is a benchmark, not a test: it prints numbers, it does not judge them.
#
#   pull:  skiff pull -q REF            into a fresh SKIFF_ROOT     (download + verify + unpack)
#     vs   skopeo copy REF oci:DIR:big  then  umoci unpack DIR:big BUNDLE
#     ref  gunzip -c | tar -x of the same 5 layers (unpack speed of this machine),
#          also placed as skiff places its layers (random names in a chattr +T dir)
#     ref  curl of the same 5 blobs to files (download speed of the registry)
#   push:  skiff push -q  vs  skopeo copy oci:DIR -> docker://, each run to a
#          fresh repository on a fresh, empty registry.
#
# Usage: bench/pull.sh               (N=5 timed runs per tool, alternating)
#        N=3 bench/pull.sh
#        PROFILE=0 bench/pull.sh     (skip the extra `node --cpu-prof` skiff pull)
#        PUSH=0 bench/pull.sh        (pull only)
#
# Network: everything goes to registries this script starts on 127.0.0.1.
# Everything it creates (registries, their storage, skiff roots, OCI dirs,
# bundles, the image build) lives under one temp dir, removed and checked at exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${N:-5}"
PROFILE="${PROFILE:-1}"
PUSH="${PUSH:-1}"
WARMUP=1
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

[[ $EUID -eq 0 ]] || { echo "pull.sh: must run as root" >&2; exit 1; }
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "pull.sh: N must be a positive integer" >&2; exit 1; }
[[ -n "${EPOCHREALTIME:-}" ]] || { echo "pull.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }

log() { echo "# $*" >&2; }
exec 3>&1   # the final cleanup line goes to the script's own stdout

# --- 1. prerequisites ---------------------------------------------------------------
need_pkgs=()
command -v docker-registry >/dev/null || need_pkgs+=(docker-registry)
command -v skopeo >/dev/null || need_pkgs+=(skopeo)
command -v umoci >/dev/null || need_pkgs+=(umoci)
command -v curl >/dev/null || need_pkgs+=(curl)
[[ -x /usr/bin/time ]] || need_pkgs+=(time)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "${need_pkgs[@]}"; }
  apt_install >&2 || { apt-get update -q >&2 && apt_install >&2; }
fi
if [[ ! -f dist/bin/main.cjs || ! -f native-bindings/build/libskiff.so ]]; then
  echo "pull.sh: no skiff build (dist/bin/main.cjs, native-bindings/build); run npm run build first" >&2
  exit 1
fi

# --- 2. private state, removed at exit ------------------------------------------------
WORK="$(mktemp -d /tmp/skiff-bench-pull.XXXX)"
chmod 711 "$WORK"
SKIFF_CLI=("$WORK/skiff/dist/bin/main.cjs")   # the launcher, as `skiff` runs it
REG_PIDS=()     # registries this script started and has not stopped yet
REG_STOPPED=0
REG_PID="" REG_PORT="" REG_DIR=""

mounts_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }

cleanup() {
  local rc=$? problems=() pid m
  set +eu
  trap - EXIT INT TERM
  for pid in "${REG_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  for pid in "${REG_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && problems+=("registry process $pid still running")
  done
  m="$(mounts_under "$WORK")"
  if [[ -n "$m" ]]; then
    problems+=("mounts left under $WORK: $(echo $m)")
    sort -r <<<"$m" | xargs -r -n1 umount -l
  fi
  if [[ -n "$(mounts_under "$WORK")" ]]; then
    problems+=("cannot remove $WORK: still mounted")
  else
    rm -rf "$WORK"
    [[ -e "$WORK" ]] && problems+=("could not remove $WORK")
  fi
  report_cleanup "$rc" "$((REG_STOPPED + ${#REG_PIDS[@]})) registries stopped; skiff roots, OCI dirs, bundles and registry storage removed; nothing mounted"
}
on_exit cleanup

# skiff from a private copy of the build (others' `npm test` rebuild dist/ in place).
private_skiff_copy "$REPO" "$WORK/skiff"

# A registry on a free loopback port, storage in a fresh dir.
# Sets REG_PID, REG_PORT, REG_DIR.
start_registry() {
  REG_DIR="$(mktemp -d "$WORK/registry.XXXX")"
  REG_PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
http:
  addr: 127.0.0.1:$REG_PORT
EOF
  docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 &
  REG_PID=$!
  REG_PIDS+=("$REG_PID")
  local i
  for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$REG_PORT/v2/" && return 0
    kill -0 "$REG_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "pull.sh: registry on 127.0.0.1:$REG_PORT did not come up:" >&2
  cat "$REG_DIR/log" >&2
  exit 1
}
stop_registry() { # stop_registry PID DIR
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  # Forget it, so the exit trap never signals a recycled pid.
  local p keep=()
  for p in "${REG_PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  REG_PIDS=("${keep[@]}")
  REG_STOPPED=$((REG_STOPPED + 1))
  rm -rf "$2"
}

# Other jobs on this machine skew every number here; the report shows the load.
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 3. the image, in the source registry --------------------------------------------------
log "building the benchmark image (bench/make-big-image.sh)"
IMAGE_DIR="$WORK/image"
DIGEST="$(bash bench/make-big-image.sh "$IMAGE_DIR")"
mapfile -t LAYER_BLOBS < <(cut -f1 "$IMAGE_DIR/layers.tsv")
COMPRESSED=$(awk -F'\t' '{ s += $2 } END { print s }' "$IMAGE_DIR/layers.tsv")
TARBYTES=$(awk -F'\t' '{ s += $3 } END { print s }' "$IMAGE_DIR/layers.tsv")

start_registry
SRC_PID=$REG_PID SRC_PORT=$REG_PORT SRC_DIR=$REG_DIR
REF="127.0.0.1:$SRC_PORT/bench/big:1"
log "source registry 127.0.0.1:$SRC_PORT; pushing $REF with skopeo (digests preserved)"
skopeo --insecure-policy copy -q --preserve-digests --dest-tls-verify=false "oci:$IMAGE_DIR:1" "docker://$REF" >&2
got="$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$SRC_PORT/v2/bench/big/manifests/1" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')"
[[ "$got" == "$DIGEST" ]] || { echo "pull.sh: registry has $REF as '$got', expected $DIGEST" >&2; exit 1; }

# --- 4. one timed run of each thing --------------------------------------------------------
# Each prints "wall_us user_s sys_s maxrss_kib" (user/sys/RSS from /usr/bin/time,
# RSS = largest single process). Setup and removal of dirs stay outside the timing;
# `sync` first so writeback of the previous run does not land in this one.
timed() { # timed ERRFILE CMD... -> one line
  local err="$1" t0 t1 rc=0
  shift
  sync
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S %M' -o "$err.time" "$@" >/dev/null 2>"$err" || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    echo "pull.sh: failed (exit $rc): $*" >&2; cat "$err" >&2; exit 1
  fi
  echo "$((${t1/./} - ${t0/./})) $(tail -n1 "$err.time")"
}

run_skiff_pull() { # -> "skiff <timing>"
  local root t
  root="$(mktemp -d "$WORK/skiff-root.XXXX")"
  chmod 711 "$root"
  t="$(SKIFF_ROOT="$root" timed "$WORK/err" "${SKIFF_CLI[@]}" pull -q "$REF")"
  echo "skiff_pull $t"
  # Sanity (untimed): the image is there, with all five layers unpacked.
  local n
  n="$(find "$root/image/layers" -mindepth 1 -maxdepth 1 -type d -not -name '.*' 2>/dev/null | wc -l)"
  SKIFF_ROOT="$root" "${SKIFF_CLI[@]}" images 2>/dev/null | grep -q "bench/big" ||
    { echo "pull.sh: skiff images does not list bench/big after the pull" >&2; exit 1; }
  ((n == ${#LAYER_BLOBS[@]})) || { echo "pull.sh: skiff root has $n unpacked layers, expected ${#LAYER_BLOBS[@]}" >&2; exit 1; }
  rm -rf "$root"
}

run_skopeo_umoci() { # -> "skopeo <timing>" and "umoci <timing>"
  local d t
  d="$(mktemp -d "$WORK/skopeo.XXXX")"
  t="$(timed "$WORK/err" skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$REF" "oci:$d/oci:big")"
  echo "skopeo_pull $t"
  t="$(timed "$WORK/err" umoci unpack --image "$d/oci:big" "$d/bundle")"
  echo "umoci_unpack $t"
  rm -rf "$d"
}

# gunzip | tar of the same 5 layer blobs: the machine's own unpack speed.
# With "placed", each layer goes where skiff puts its layers
# (ImageStore.makeLayersDir): a directory with a random name in a chattr +T
# (FS_TOPDIR_FL) directory, so that ext4 gives each its own block group. On
# ext4 without a journal (this project's VMs) placement decides how long the
# inode creations take (see the README), so that reference differs from skiff
# only in the unpacker.
run_gunzip_tar() { # run_gunzip_tar [placed]
  local d t key=gunzip_tar
  d="$(mktemp -d "$WORK/tar.XXXX")"
  if [[ ${1:-} == placed ]]; then
    key=gunzip_tar_topdir
    chattr +T "$d" 2>/dev/null || true
  fi
  t="$(timed "$WORK/err" bash -c '
    i=0; for b in "${@:3}"; do
      i=$((i+1))
      if [[ $2 == placed ]]; then l="$(mktemp -d "$1/.tmp-XXXXXXXXXX")"; else l="$1/$i"; mkdir "$l"; fi
      gunzip -c "$b" | tar --numeric-owner -xf - -C "$l" || exit 1
    done
  ' _ "$d" "${1:-plain}" "${LAYER_BLOBS[@]/#/$IMAGE_DIR/}")"
  echo "$key $t"
  rm -rf "$d"
}

run_curl() { # download only: the same 5 blobs from the registry, to files, one after another
  local d t
  d="$(mktemp -d "$WORK/curl.XXXX")"
  t="$(timed "$WORK/err" bash -c '
    for b in "${@:3}"; do curl -sf -o "$1/${b##*/}" "$2/sha256:${b##*/}" || exit 1; done
  ' _ "$d" "http://127.0.0.1:$SRC_PORT/v2/bench/big/blobs" "${LAYER_BLOBS[@]}")"
  echo "curl_download $t"
  rm -rf "$d"
}

log "pull warm-up: $WARMUP run each"
for ((i = 0; i < WARMUP; i++)); do
  run_skiff_pull >/dev/null; run_skopeo_umoci >/dev/null; run_gunzip_tar >/dev/null; run_gunzip_tar placed >/dev/null; run_curl >/dev/null
done
log "pull timing: $N runs each, alternating"
for ((i = 1; i <= N; i++)); do
  run_skiff_pull; run_skopeo_umoci; run_gunzip_tar; run_gunzip_tar placed; run_curl
done >"$WORK/pull.txt"

# --- 5. push -----------------------------------------------------------------------------------
if ((PUSH)); then
  PUSH_ROOT="$(mktemp -d "$WORK/skiff-push-root.XXXX")"
  chmod 711 "$PUSH_ROOT"
  SKIFF_ROOT="$PUSH_ROOT" "${SKIFF_CLI[@]}" pull -q "$REF" >/dev/null
  check_pushed() { # check_pushed PORT REPO TOOL: the registry has the exact manifest
    local got
    got="$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$1/v2/$2/manifests/1" |
      tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')"
    [[ "$got" == "$DIGEST" ]] || { echo "pull.sh: $3 push stored '$got', expected $DIGEST" >&2; exit 1; }
  }
  run_skiff_push() { # $1 = run number
    start_registry
    local t pid=$REG_PID dir=$REG_DIR target="127.0.0.1:$REG_PORT/bench/push$1:1"
    SKIFF_ROOT="$PUSH_ROOT" "${SKIFF_CLI[@]}" tag "$REF" "$target"
    t="$(SKIFF_ROOT="$PUSH_ROOT" timed "$WORK/err" "${SKIFF_CLI[@]}" push -q "$target")"
    echo "skiff_push $t"
    check_pushed "$REG_PORT" "bench/push$1" skiff
    SKIFF_ROOT="$PUSH_ROOT" "${SKIFF_CLI[@]}" rmi "$target" >/dev/null 2>&1 || true
    stop_registry "$pid" "$dir"
  }
  run_skopeo_push() {
    start_registry
    local t pid=$REG_PID dir=$REG_DIR
    t="$(timed "$WORK/err" skopeo --insecure-policy copy -q --preserve-digests --dest-tls-verify=false \
      "oci:$IMAGE_DIR:1" "docker://127.0.0.1:$REG_PORT/bench/push$1:1")"
    echo "skopeo_push $t"
    check_pushed "$REG_PORT" "bench/push$1" skopeo
    stop_registry "$pid" "$dir"
  }
  log "push warm-up: $WARMUP run each"
  for ((i = 0; i < WARMUP; i++)); do run_skiff_push "w$i" >/dev/null; run_skopeo_push "w$i" >/dev/null; done
  log "push timing: $N runs each, alternating, each to a fresh registry"
  for ((i = 1; i <= N; i++)); do run_skiff_push "$i"; run_skopeo_push "$i"; done >"$WORK/push.txt"
fi

# --- 6. one profiled skiff pull (main thread only) ----------------------------------------------
if ((PROFILE)); then
  log "profiling one skiff pull (node --cpu-prof)"
  root="$(mktemp -d "$WORK/skiff-root.XXXX")"
  chmod 711 "$root"
  mkdir -p "$WORK/prof"
  SKIFF_ROOT="$root" node --cpu-prof --cpu-prof-dir="$WORK/prof" "$WORK/skiff/dist/bin/main.cjs" pull -q "$REF" >/dev/null
  rm -rf "$root"
fi

# --- 7. report -----------------------------------------------------------------------------------
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
LOAD_START="$LOAD_START" LOAD_END="$LOAD_END" CORES="$(nproc)" WORK="$WORK" N="$N" COMPRESSED="$COMPRESSED" TARBYTES="$TARBYTES" REF="$REF" DIGEST="$DIGEST" \
  LAYERS="${#LAYER_BLOBS[@]}" node --input-type=module - <<'EOF'
import fs from 'node:fs';
const W = process.env.WORK, N = Number(process.env.N);
const C = Number(process.env.COMPRESSED), U = Number(process.env.TARBYTES);
const MiB = 1048576;
const rows = {};
for (const f of ['pull.txt', 'push.txt']) {
  if (!fs.existsSync(`${W}/${f}`)) continue;
  for (const line of fs.readFileSync(`${W}/${f}`, 'utf8').split('\n').filter(Boolean)) {
    const [k, us, user, sys, rss] = line.split(' ');
    (rows[k] ??= []).push({ wall: us / 1e6, cpu: Number(user) + Number(sys), rss: rss / 1024 });
  }
}
const median = (a) => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const med = (k, f = 'wall') => median(rows[k].map((r) => r[f]));
// skopeo + umoci as one pipeline: per-run sums, then the median.
if (rows.skopeo_pull) rows['skopeo+umoci'] = rows.skopeo_pull.map((r, i) => {
  const u = rows.umoci_unpack[i];
  return { wall: r.wall + u.wall, cpu: r.cpu + u.cpu, rss: Math.max(r.rss, u.rss) };
});
const line = (label, k, note = '') => {
  const w = med(k);
  console.log(`${label.padEnd(30)} ${w.toFixed(3).padStart(7)} s  ${(Math.min(...rows[k].map((r) => r.wall))).toFixed(3).padStart(7)} s` +
    `  ${med(k, 'cpu').toFixed(2).padStart(6)} s  ${med(k, 'rss').toFixed(0).padStart(5)} MiB` +
    `  ${(C / MiB / w).toFixed(1).padStart(6)}  ${(U / MiB / w).toFixed(1).padStart(6)}${note}`);
};
const head = () => console.log(`${'what'.padEnd(30)} ${'median'.padStart(9)}  ${'min'.padStart(9)}  ${'cpu(u+s)'.padStart(8)}  ${'RSS'.padStart(9)}` +
  `  ${'MiB/s'.padStart(6)}  ${'MiB/s'.padStart(6)}\n${''.padEnd(30)} ${''.padStart(9)}  ${''.padStart(9)}  ${'median'.padStart(8)}  ${'median'.padStart(9)}` +
  `  ${'(gz)'.padStart(6)}  ${'(tar)'.padStart(6)}`);

console.log(`image ${process.env.REF} (${process.env.DIGEST.slice(0, 19)}…): ${process.env.LAYERS} layers,` +
  ` ${(C / MiB).toFixed(1)} MiB compressed (gz), ${(U / MiB).toFixed(1)} MiB of uncompressed layer tars (tar)`);
console.log(`MiB/s = that many MiB / median wall time; cpu = user+sys of the whole process (threads included)`);
const busy = Number(process.env.LOAD_START.split(' ')[0]) > Number(process.env.CORES) || Number(process.env.LOAD_END.split(' ')[0]) > Number(process.env.CORES);
console.log(`load average at start ${process.env.LOAD_START}, at end ${process.env.LOAD_END} (${process.env.CORES} cores)` +
  `${busy ? '  WARNING: machine busy, numbers are skewed' : ''}\n`);
console.log(`PULL (download + unpack), N=${N}, alternating, fresh dirs each run`);
head();
line('skiff pull', 'skiff_pull');
line('skopeo copy + umoci unpack', 'skopeo+umoci');
line('  skopeo copy (to oci: dir)', 'skopeo_pull');
line('  umoci unpack', 'umoci_unpack');
line('ref: gunzip -c | tar -x', 'gunzip_tar', '   (5 layers, one after another)');
line('ref: the same, placed as skiff', 'gunzip_tar_topdir', '   (random names in a chattr +T dir)');
line('ref: curl blobs to files', 'curl_download', '   (5 blobs, one after another)');
console.log(`ratio skiff / (skopeo + umoci), median wall: ${(med('skiff_pull') / med('skopeo+umoci')).toFixed(2)}`);
console.log(`ratio skiff / (gunzip | tar),   median wall: ${(med('skiff_pull') / med('gunzip_tar')).toFixed(2)}`);
console.log(`ratio skiff / (gunzip | tar, placed as skiff): ${(med('skiff_pull') / med('gunzip_tar_topdir')).toFixed(2)}`);
if (rows.skiff_push) {
  console.log(`\nPUSH (upload ${(C / MiB).toFixed(1)} MiB of gzip blobs + config + manifest), N=${N}, alternating, fresh registry each run`);
  head();
  line('skiff push', 'skiff_push');
  line('skopeo copy oci: -> docker://', 'skopeo_push');
  console.log(`ratio skiff / skopeo, median wall: ${(med('skiff_push') / med('skopeo_push')).toFixed(2)}`);
}

// CPU profile of one skiff pull: self time per function (main thread only;
// gunzip and file writes run on libuv's pool and show here as idle time).
const profDir = `${W}/prof`;
if (fs.existsSync(profDir)) {
  const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  for (const f of files) {
    const p = JSON.parse(fs.readFileSync(`${profDir}/${f}`, 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = new Map();
    let total = 0;
    p.samples.forEach((id, i) => {
      const dt = (p.timeDeltas[i] ?? 0) / 1000;
      total += dt;
      const cf = byId.get(id).callFrame;
      const file = cf.url ? cf.url.replace(/^.*\//, '') : '';
      const key = `${cf.functionName || '(anonymous)'}${file ? `  ${file}:${cf.lineNumber + 1}` : ''}`;
      self.set(key, (self.get(key) ?? 0) + dt);
    });
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15);
    console.log(`\nskiff pull CPU profile (main thread, ${(total / 1000).toFixed(2)} s sampled): top self time`);
    for (const [k, ms] of top) console.log(`${ms.toFixed(0).padStart(7)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%  ${k}`);
    // Inclusive time of the bundle's own functions (dist/bin/*.cjs),
    // each counted once per sampled stack.
    const parent = new Map();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const incl = new Map();
    p.samples.forEach((id, i) => {
      const dt = (p.timeDeltas[i] ?? 0) / 1000, seen = new Set();
      for (let x = id; x !== undefined; x = parent.get(x)) {
        const cf = byId.get(x).callFrame;
        if (!cf.url.includes('/dist/bin/')) continue;
        const key = `${cf.functionName || '(anonymous)'}  ${cf.url.replace(/^.*\//, '')}:${cf.lineNumber + 1}`;
        if (!seen.has(key)) { seen.add(key); incl.set(key, (incl.get(key) ?? 0) + dt); }
      }
    });
    console.log(`top inclusive time in the CLI bundle (dist/bin/*.cjs: skiff + bundled tar-stream, yargs):`);
    for (const [k, ms] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`${ms.toFixed(0).padStart(7)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%  ${k}`);
  }
}
EOF
