#!/usr/bin/env bash
# Start-latency benchmark: `skiff run --rm busybox true` against
# `podman run --rm --network=none busybox true`, measured as whole processes.
# This is a benchmark, not a test: it prints numbers, it does not judge them.
#
# Usage: bench/start.sh            (N=20 timed runs per tool)
#        N=10 bench/start.sh       (fewer runs)
#        RSS_RUNS=5 bench/start.sh (runs used for the peak-RSS figure; 0 skips it)
#
# Everything it creates (a private skiff root, a private podman store, the
# containers, their mounts and cgroups) is removed at exit, and checked.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${N:-20}"
WARMUP=2                     # untimed runs per tool: page cache, first-run setup
RSS_RUNS="${RSS_RUNS:-3}"
# Fixed locale so EPOCHREALTIME uses '.' and sort/awk behave the same everywhere.
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
IMAGE_TAR="rootfs-fixtures/out/busybox.tar"

[[ $EUID -eq 0 ]] || { echo "start.sh: must run as root (both tools need it here)" >&2; exit 1; }
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "start.sh: N must be a positive integer" >&2; exit 1; }
# EPOCHREALTIME (bash 5+) gives microseconds without forking `date`,
# so the timer itself adds nothing measurable to either tool.
[[ -n "${EPOCHREALTIME:-}" ]] || { echo "start.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }

log() { echo "# $*" >&2; }
# The final cleanup line goes to fd 3, the script's own stdout: the EXIT trap
# can fire inside a function whose stdout is redirected to a timings file.
exec 3>&1

# --- 1. prerequisites ---------------------------------------------------------
# podman + runc: runc because crun refuses this machine's hybrid cgroup layout.
# /usr/bin/time (package `time`) only for the peak-RSS figure.
need_pkgs=()
command -v podman >/dev/null || need_pkgs+=(podman)
command -v runc >/dev/null || need_pkgs+=(runc)
[[ -x /usr/bin/time ]] || need_pkgs+=(time)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  # The lock timeout lets a concurrent apt run finish instead of failing us;
  # `apt-get update` only when the plain install fails (stale/missing lists).
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "${need_pkgs[@]}"; }
  apt_install >&2 || { apt-get update -q >&2 && apt_install >&2; }
fi

# skiff: build when the CLI or the native helper is missing, or a source is newer.
if [[ ! -f dist/bin/main.cjs || ! -f native-bindings/build/libskiff.so ]] ||
  [[ -n "$(find runtime native-bindings tsconfig.json -newer dist/bin/main.cjs \
    \( -name '*.ts' -o -name '*.c' -o -name '*.mjs' -o -name '*.json' \) -not -path '*/build/*' -print -quit)" ]]; then
  log "building skiff (npm run build)"
  npm run build >&2
fi

# Fixture image: only when missing, so a concurrent test never sees it rebuilt.
if [[ ! -s "$IMAGE_TAR" ]]; then
  log "building fixture images (rootfs-fixtures/busybox.sh)"
  bash rootfs-fixtures/busybox.sh >&2
fi

# --- 2. private state for both tools, removed at exit ------------------------
export SKIFF_ROOT
SKIFF_ROOT="$(mktemp -d /tmp/skiff-bench.XXXX)"
# 711 like /var/lib/skiff: container processes (possibly remapped uids) must be
# able to traverse to their rootfs, but not list the root.
chmod 711 "$SKIFF_ROOT"
PODMAN_DIR="$(mktemp -d /tmp/skiff-bench-podman.XXXX)"
WORK="$(mktemp -d /tmp/skiff-bench-work.XXXX)"   # per-run stderr, timings, skiff snapshot
chmod 711 "$WORK"
# The launcher itself, as `skiff` runs it (npm's bin link and try.sh's wrapper
# exec it): its hashbang keeps NODE_EXTRA_CA_CERTS out of Node's start.
SKIFF_CLI=("$WORK/skiff/dist/bin/main.cjs")   # filled in below
# When this environment sets NODE_EXTRA_CA_CERTS, Node 20 reads it at every
# start (90 ms here): the bench then also times `node main.cjs`, which pays it.
PLAIN=0
[[ -n "${NODE_EXTRA_CA_CERTS:-}" ]] && PLAIN=1

# Every piece of podman state goes under PODMAN_DIR: image store (--root),
# runtime state (--runroot), libpod tmp + events log (--tmpdir, default
# /run/libpod), network config (--network-config-dir); the user's own podman
# storage is never read or written.
PODMAN=(podman --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run"
  --tmpdir "$PODMAN_DIR/tmp" --network-config-dir "$PODMAN_DIR/net"
  --runtime runc)
# Without systemd podman falls back to cgroupfs + a file event log by itself;
# saying so explicitly keeps it from probing for systemd/journald on each run.
if [[ ! -d /run/systemd/system ]]; then
  PODMAN+=(--cgroup-manager=cgroupfs --events-backend=file)
fi
# Root here lacks CAP_SYS_RESOURCE and cannot raise hard rlimits; without
# these runc fails with "error setting rlimit type 7: operation not permitted".
PODMAN_RUN=(run --rm --network=none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

# podman's cgroupfs manager creates libpod_parent/ (and libpod_parent/conmon)
# in every hierarchy and never removes them; remember whether they predate us.
libpod_parent_existed=0
compgen -G '/sys/fs/cgroup/*/libpod_parent' >/dev/null && libpod_parent_existed=1

# Mount points at or below a directory (exact path match, not a prefix of a name).
mounts_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }

cleanup() {
  local rc=$? problems=() ids=() m
  set +e
  trap - EXIT INT TERM

  # skiff: containers first (none should exist after `run --rm`), then any
  # leftover mount under our root, then the root itself.
  if [[ -d "$SKIFF_ROOT" ]]; then
    local left
    left="$("${SKIFF_CLI[@]}" ps -aq 2>/dev/null)"
    if [[ -n "$left" ]]; then
      problems+=("skiff containers left: $(echo $left)")
      # shellcheck disable=SC2086
      "${SKIFF_CLI[@]}" rm -f $left >/dev/null 2>&1
    fi
    # Container ids, from the per-container lock files skiff keeps in its
    # root: used below to look for their cgroups precisely (other engineers'
    # skiff containers may share the same cgroup hierarchies).
    for m in "$SKIFF_ROOT"/locks/ctr-*.lock; do
      [[ -e "$m" ]] || continue
      m="${m##*/ctr-}"; ids+=("${m%.lock}")
    done
  fi
  # podman: containers, then images (unmounts and deletes its layers).
  if [[ -d "$PODMAN_DIR/root" ]]; then
    if [[ -n "$("${PODMAN[@]}" ps -aq 2>/dev/null)" ]]; then
      problems+=("podman containers left")
      "${PODMAN[@]}" rm -a -f >/dev/null 2>&1
    fi
    "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1
    release_storage_home "$PODMAN_DIR/root"
  fi

  # Mount check: ours are exactly those under our own directories.
  for root in "$SKIFF_ROOT" "$PODMAN_DIR"; do
    m="$(mounts_under "$root")"
    if [[ -n "$m" ]]; then
      problems+=("mounts left under $root: $(echo $m)")
      # Deepest first; lazy so a busy mount cannot block the rest.
      sort -r <<<"$m" | xargs -r -n1 umount -l
    fi
  done

  # Remove the directories only when nothing is mounted under them, so rm -rf
  # can never reach through a mount into something that is not ours.
  for root in "$SKIFF_ROOT" "$PODMAN_DIR" "$WORK"; do
    if [[ -n "$(mounts_under "$root")" ]]; then
      problems+=("cannot remove $root: still mounted")
    else
      rm -rf "$root"
    fi
  done

  # cgroups: a skiff container's is <own cgroup>/skiff/<id> in each hierarchy.
  local cg_dirs
  cg_dirs="$(find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d -path '*/skiff/*' 2>/dev/null)"
  for id in "${ids[@]}"; do
    if grep -q "/skiff/$id\$" <<<"$cg_dirs"; then problems+=("skiff cgroup left: $id"); fi
  done
  # podman's: libpod-<id> under libpod_parent. Its two empty parents are
  # removed when this run created them (rmdir refuses populated cgroups).
  if compgen -G '/sys/fs/cgroup/*/libpod_parent/libpod-*' >/dev/null; then
    problems+=("podman container cgroups left under libpod_parent")
  fi
  if ((!libpod_parent_existed)); then
    for d in /sys/fs/cgroup/*/libpod_parent; do
      [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    compgen -G '/sys/fs/cgroup/*/libpod_parent' >/dev/null && problems+=("could not remove libpod_parent cgroups")
  fi

  report_cleanup "$rc" "nothing left behind: ${#ids[@]} skiff containers checked for state, mounts and cgroups; podman store and cgroups removed"
}
on_exit cleanup

# Run skiff from a private copy of the build: other engineers' `npm test`
# rebuilds dist/ in place, and a run that loads half-rewritten modules fails.
# The copy keeps the layout helper.ts expects (<pkg>/dist/..., <pkg>/native-bindings/build).
private_skiff_copy "$REPO" "$WORK/skiff"

log "skiff root $SKIFF_ROOT, podman store $PODMAN_DIR"
"${SKIFF_CLI[@]}" load -i "$IMAGE_TAR" >/dev/null
"${PODMAN[@]}" load -q -i "$IMAGE_TAR" >/dev/null   # docker-archive; tagged localhost/busybox:latest

# --- 3. timed runs -------------------------------------------------------------
# One run of a tool; prints its wall time in microseconds. Stderr goes to a
# file (skiff's holds its SKIFF_TRACE marks); a failed run stops the bench.
run_skiff() { SKIFF_TRACE=1 "${SKIFF_CLI[@]}" run --rm --network none busybox true; }
run_podman() { "${PODMAN[@]}" "${PODMAN_RUN[@]}" busybox true; }
run_plain() { node "$WORK/skiff/dist/bin/main.cjs" run --rm --network none busybox true; }
time_one() { # time_one TOOL ERRFILE
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  "run_$1" >/dev/null 2>"$2" || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    echo "start.sh: $1 run failed (exit $rc):" >&2; cat "$2" >&2; exit 1
  fi
  echo $((${t1/./} - ${t0/./}))
}

log "warm-up: $WARMUP runs each"
for ((i = 0; i < WARMUP; i++)); do
  time_one skiff "$WORK/warm.err" >/dev/null
  time_one podman "$WORK/warm.err" >/dev/null
done

# Alternate the tools so that background load (other jobs on this machine)
# falls on both alike instead of on whichever ran during the busy stretch.
log "timing: $N runs each, alternating skiff/podman"
for ((i = 1; i <= N; i++)); do
  time_one skiff "$WORK/skiff.$i.err" >>"$WORK/skiff.us"
  time_one podman "$WORK/podman.$i.err" >>"$WORK/podman.us"
  ((PLAIN)) && time_one plain "$WORK/plain.err" >>"$WORK/plain.us"
done

# exec into a running container, against `podman exec` (issue 10's goal: ≤ 0.7×),
# and CLI-only commands against `node -e 0` (goal: ≤ 1.3×). EXEC=0 skips both.
if [[ ${EXEC:-1} != 0 ]]; then
  sid=$("${SKIFF_CLI[@]}" run -d --network none busybox sleep 3600)
  pid=$("${PODMAN[@]}" run -d --network=none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 busybox sleep 3600)
  run_skiff_exec() { "${SKIFF_CLI[@]}" exec "$sid" true; }
  run_podman_exec() { "${PODMAN[@]}" exec "$pid" true; }
  run_skiff_ps() { "${SKIFF_CLI[@]}" ps; }
  run_skiff_images() { "${SKIFF_CLI[@]}" images; }
  run_skiff_inspect() { "${SKIFF_CLI[@]}" inspect "$sid"; }
  # Node's own start, as the launcher gives it to skiff; and as this environment
  # gives it to any other Node program.
  run_node0() { env -u NODE_EXTRA_CA_CERTS node -e 0; }
  run_node0_env() { node -e 0; }
  log "timing: exec, $N runs each, alternating; ps, images, inspect and node -e 0, $N runs each"
  # Warm-up: the first run of each verb also writes its code cache (bench/lib.sh).
  for t in skiff_exec podman_exec skiff_ps skiff_images skiff_inspect; do time_one "$t" "$WORK/warm.err" >/dev/null; done
  for ((i = 1; i <= N; i++)); do
    for t in skiff_exec podman_exec node0 skiff_ps skiff_images skiff_inspect $( ((PLAIN)) && echo node0_env); do
      time_one "$t" "$WORK/$t.err" >>"$WORK/$t.us"
    done
  done
  "${SKIFF_CLI[@]}" rm -f "$sid" >/dev/null
  "${PODMAN[@]}" rm -f -t 0 "$pid" >/dev/null
fi

# Peak RSS, in separate runs so /usr/bin/time's fork does not touch the timings.
# %M is ru_maxrss over the waited-for process tree: the largest single process
# (for skiff that is the CLI's node, the only Node process of a start).
# podman's conmon is daemonized and not included.
if ((RSS_RUNS > 0)); then
  log "peak RSS: $RSS_RUNS runs each"
  for ((i = 1; i <= RSS_RUNS; i++)); do
    /usr/bin/time -f %M -o "$WORK/rss.tmp" "${SKIFF_CLI[@]}" run --rm --network none busybox true >/dev/null 2>&1
    cat "$WORK/rss.tmp" >>"$WORK/skiff.rss"
    /usr/bin/time -f %M -o "$WORK/rss.tmp" "${PODMAN[@]}" "${PODMAN_RUN[@]}" busybox true >/dev/null 2>&1
    cat "$WORK/rss.tmp" >>"$WORK/podman.rss"
  done
fi

# --- 4. + 5. report --------------------------------------------------------------
# Collect the trace marks of every timed skiff run as "run phase ms" lines.
for ((i = 1; i <= N; i++)); do
  awk -v run="$i" '$1 == "skiff-trace" { print run, $2, $3 }' "$WORK/skiff.$i.err"
done >"$WORK/trace.txt"

# Node does the statistics: it is already required, and needs no packages.
WORK="$WORK" N="$N" node --input-type=module - <<'EOF'
import fs from 'node:fs';
const W = process.env.WORK, N = Number(process.env.N);
const read = (f) => fs.existsSync(`${W}/${f}`)
  ? fs.readFileSync(`${W}/${f}`, 'utf8').split('\n').filter(Boolean).map(Number) : [];
const sorted = (a) => [...a].sort((x, y) => x - y);
const median = (a) => { const s = sorted(a), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
// p90 by nearest rank: the smallest value with at least 90% of runs at or below it.
const p90 = (a) => sorted(a)[Math.ceil(0.9 * a.length) - 1];
const sec = (us) => `${(us / 1e6).toFixed(3)} s`;

const t = { skiff: read('skiff.us'), podman: read('podman.us') };
const plain = read('plain.us');
if (plain.length) t['node main.cjs'] = plain;
console.log(`start latency, N=${N} (alternating, same run)`);
const w = plain.length ? 14 : 8;
console.log(`${'tool'.padEnd(w)} ${'median'.padEnd(9)} ${'p90'.padEnd(9)} ${'min'.padEnd(9)} peak RSS`);
for (const [tool, v] of Object.entries(t)) {
  const rss = read(`${tool}.rss`);
  const rssText = rss.length ? `${(median(rss) / 1024).toFixed(0)} MiB (median of ${rss.length})` : '-';
  console.log(`${tool.padEnd(w)} ${sec(median(v)).padEnd(9)} ${sec(p90(v)).padEnd(9)} ${sec(Math.min(...v)).padEnd(9)} ${rssText}`);
}
console.log(`ratio skiff/podman (median): ${(median(t.skiff) / median(t.podman)).toFixed(2)}`);
if (plain.length) {
  console.log(`ratio node main.cjs/podman (median): ${(median(plain) / median(t.podman)).toFixed(2)}` +
    ' (NODE_EXTRA_CA_CERTS is set here: started without the launcher, Node reads it first)');
}

const ex = { skiff: read('skiff_exec.us'), podman: read('podman_exec.us') };
if (ex.skiff.length) {
  console.log(`\nexec CONTAINER true, N=${N} (alternating, same run)`);
  for (const [tool, v] of Object.entries(ex)) console.log(`${tool.padEnd(8)} ${sec(median(v)).padEnd(9)} ${sec(p90(v))}`);
  console.log(`ratio skiff/podman (median): ${(median(ex.skiff) / median(ex.podman)).toFixed(2)}`);
  const node0 = median(read('node0.us'));
  console.log(`\nCLI-only commands against node -e 0 (${sec(node0)}), N=${N}`);
  const env0 = read('node0_env.us');
  if (env0.length) console.log(`(node -e 0 with this environment's NODE_EXTRA_CA_CERTS: ${sec(median(env0))}; the launcher spares skiff that)`);
  for (const cmd of ['ps', 'images', 'inspect']) {
    const v = read(`skiff_${cmd}.us`);
    console.log(`skiff ${cmd.padEnd(8)} ${sec(median(v)).padEnd(9)} ratio ${(median(v) / node0).toFixed(2)}`);
  }
}

// Breakdown: per run, each step = this mark minus the previous one
// (the first step = the first mark, i.e. time from process start).
const steps = [
  ['cli-start', 'node boot + module load (CLI)'],
  ['cli-parsed', 'argument parsing (incl. loading the run command)'],
  ['created', 'create (state, name)'],
  ['cgroup-ready', 'cgroup create + limits (then the lock warm-up starts)'],
  ['rootfs-mounted', 'rootfs overlay mount'],
  ['cloned', 'clone'],
  ['root-built', 'child makes procfs; mounts, pivot_root from the main thread'],
  ['stub-ready', 'seccomp, exec of skiff-exec'],
  ['exec', 'cgroup join, exec to command start'],
  ['exited', 'command runs + wait'],
  ['done', 'cleanup (--rm)'],
];
const runs = new Map();
for (const line of fs.readFileSync(`${W}/trace.txt`, 'utf8').split('\n').filter(Boolean)) {
  const [run, phase, ms] = line.split(' ');
  if (!runs.has(run)) runs.set(run, {});
  runs.get(run)[phase] = Number(ms);
}
const complete = [...runs.values()].filter((m) => steps.every(([p]) => p in m));
console.log('');
if (!complete.length) {
  console.log('skiff phase breakdown: no complete SKIFF_TRACE output captured');
} else {
  console.log(`skiff phase breakdown (median per step over ${complete.length} runs, SKIFF_TRACE=1)`);
  const width = Math.max(...steps.map(([, n]) => n.length)) + 2;
  console.log(`${'step'.padEnd(width)} ${'median'.padStart(9)}`);
  let sum = 0;
  steps.forEach(([p, name], i) => {
    const d = median(complete.map((m) => m[p] - (i ? m[steps[i - 1][0]] : 0)));
    sum += d;
    console.log(`${name.padEnd(width)} ${d.toFixed(1).padStart(6)} ms`);
  });
  console.log(`${'sum of step medians'.padEnd(width)} ${sum.toFixed(1).padStart(6)} ms`);
  const total = median(complete.map((m) => m.done));
  console.log(`${'process start to "done" (median)'.padEnd(width)} ${total.toFixed(1).padStart(6)} ms` +
    `   (wall median ${(median(t.skiff) / 1000).toFixed(1)} ms; the rest is process exit + fork/exec)`);
}
EOF
