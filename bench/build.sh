#!/usr/bin/env bash
# Build benchmark (issue 5): the same 10-step Dockerfile built by `skiff build`
# and by `buildah bud` (Debian's buildah), in the same run, as whole processes.
#   (a) full build:     skiff --no-cache        buildah bud --layers --no-cache
#   (b) cached rebuild: skiff (cache on)        buildah bud --layers
# (b) is the second build of the unchanged context right after (a); every step
# must be a cache hit ("Using cache" x9 for both tools, no RUN executed).
# This is a benchmark, not a test: it prints numbers, it does not judge them.
# The project's goal: cached rebuild <= 0.5x buildah, full build <= 1.0x.
#
# Usage: bench/build.sh             (N=5 timed rounds)
#        N=3 bench/build.sh         (fewer rounds)
#        PROFILE=0 bench/build.sh   (skip the per-step skiff profile)
#
# buildah flags that work on these machines (Debian 12, buildah 1.28, root
# without CAP_SYS_RESOURCE, hybrid cgroups):
#   --root/--runroot DIR       private storage, the host's store is never used
#   --storage-driver overlay   (vfs works too, but copies every layer)
#   --isolation oci --runtime runc
#                              crun refuses the hybrid cgroup layout;
#                              `--isolation chroot` refuses `--network none`
#                              ("cannot set --network other than host")
#   --network none             like skiff's default for RUN
#   --pull=never               the base must come from the local store
# No --ulimit is needed: unlike podman, buildah hands runc the current
# (already allowed) rlimits.
# Both tools take the same Dockerfile: `FROM busybox:latest` resolves in
# buildah's store to localhost/busybox:latest, the name `buildah pull
# docker-archive:...` gives the fixture.
#
# Everything it creates (a private skiff root, a private buildah store, a
# context dir, images, containers, mounts) is removed at exit, and checked.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${N:-5}"
PROFILE="${PROFILE:-1}"
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
IMAGE_TAR="$REPO/rootfs-fixtures/out/busybox.tar"
TAG="bench-build:latest"

[[ $EUID -eq 0 ]] || { echo "build.sh: must run as root (both tools need it here)" >&2; exit 1; }
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "build.sh: N must be a positive integer" >&2; exit 1; }
[[ -n "${EPOCHREALTIME:-}" ]] || { echo "build.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }

log() { echo "# $*" >&2; }
exec 3>&1   # the cleanup line goes to the script's own stdout, whatever is redirected

# --- 1. prerequisites ---------------------------------------------------------
need_pkgs=()
command -v buildah >/dev/null || need_pkgs+=(buildah)
command -v runc >/dev/null || need_pkgs+=(runc)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "${need_pkgs[@]}"; }
  apt_install >&2 || { apt-get update -q >&2 && apt_install >&2; }
fi
if [[ ! -f dist/bin/main.cjs || ! -f native-bindings/build/libskiff.so ]]; then
  echo "build.sh: skiff is not built (dist/bin/main.cjs, native-bindings/build); run npm run build first" >&2
  exit 1
fi
if [[ ! -s "$IMAGE_TAR" ]]; then
  log "building fixture images (rootfs-fixtures/busybox.sh)"
  bash rootfs-fixtures/busybox.sh >&2
fi

# --- 2. private state for both tools, removed at exit ------------------------
export SKIFF_ROOT
SKIFF_ROOT="$(mktemp -d /tmp/skiff-bbench.XXXX)"
chmod 711 "$SKIFF_ROOT"   # like /var/lib/skiff: containers traverse, nobody lists
BUILDAH_DIR="$(mktemp -d /tmp/skiff-bbench-buildah.XXXX)"
WORK="$(mktemp -d /tmp/skiff-bbench-work.XXXX)"   # skiff snapshot, context, logs, timings
chmod 711 "$WORK"
SKIFF_CLI=("$WORK/skiff/dist/bin/main.cjs")   # the launcher, as `skiff` runs it
BUILDAH=(buildah --root "$BUILDAH_DIR/root" --runroot "$BUILDAH_DIR/run" --storage-driver overlay)
BUD=(bud --isolation oci --runtime runc --network none --pull=never --layers)
CTX="$WORK/ctx"

mounts_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }

cleanup() {
  local rc=$? problems=() ids=() m root left
  set +e
  trap - EXIT INT TERM

  # skiff: containers (build removes its own), images, then the root.
  if [[ -d "$SKIFF_ROOT" && -f "$WORK/skiff/dist/bin/main.cjs" ]]; then
    left="$("${SKIFF_CLI[@]}" ps -aq 2>/dev/null)"
    if [[ -n "$left" ]]; then
      problems+=("skiff containers left: $(echo $left)")
      # shellcheck disable=SC2086
      "${SKIFF_CLI[@]}" rm -f $left >/dev/null 2>&1
    fi
    for m in "$SKIFF_ROOT"/locks/ctr-*.lock; do
      [[ -e "$m" ]] || continue
      m="${m##*/ctr-}"; ids+=("${m%.lock}")
    done
    # Build containers remove their lock with them: take their (short) ids
    # from the builds' " ---> Running in ID" lines.
    mapfile -t -O "${#ids[@]}" ids < <(cat "$WORK"/skiff.*.log "$WORK"/profile.* 2>/dev/null |
      sed -n 's/.*---> Running in \([0-9a-f]\{12\}\).*/\1/p' | sort -u)
    "${SKIFF_CLI[@]}" rmi -f "$TAG" >/dev/null 2>&1
    "${SKIFF_CLI[@]}" image prune -a -f >/dev/null 2>&1
  fi
  # buildah: working containers (bud removes its own), then every image.
  if [[ -d "$BUILDAH_DIR/root" ]]; then
    if [[ -n "$("${BUILDAH[@]}" containers -q 2>/dev/null)" ]]; then
      problems+=("buildah containers left")
      "${BUILDAH[@]}" rm -a >/dev/null 2>&1
    fi
    "${BUILDAH[@]}" rmi -a -f >/dev/null 2>&1
    release_storage_home "$BUILDAH_DIR/root"
  fi
  # Mounts: ours are exactly those under our own directories (other sessions'
  # skiff roots may be mounted too; they are not ours to touch).
  for root in "$SKIFF_ROOT" "$BUILDAH_DIR" "$WORK"; do
    m="$(mounts_under "$root")"
    if [[ -n "$m" ]]; then
      problems+=("mounts left under $root: $(echo $m)")
      sort -r <<<"$m" | xargs -r -n1 umount -l
    fi
  done
  for root in "$SKIFF_ROOT" "$BUILDAH_DIR" "$WORK"; do
    if [[ -n "$(mounts_under "$root")" ]]; then
      problems+=("cannot remove $root: still mounted")
    else
      rm -rf "$root"
    fi
  done
  # The brief's check, limited to our own directories' prefixes.
  if grep -E 'skiff|buildah' /proc/mounts | grep -qF -e "$SKIFF_ROOT" -e "$BUILDAH_DIR" -e "$WORK"; then
    problems+=("/proc/mounts still names our directories")
  fi
  # cgroups: skiff's are <own cgroup>/skiff/<id>; runc's (buildah) are
  # removed by runc when the RUN ends; look for both.
  local cg_dirs
  cg_dirs="$(find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d -path '*/skiff/*' 2>/dev/null)"
  for id in "${ids[@]}"; do
    if grep -q "/skiff/$id" <<<"$cg_dirs"; then problems+=("skiff cgroup left: $id"); fi
  done
  if [[ -n "$(find /sys/fs/cgroup -maxdepth 6 -type d -iname '*buildah*' -print -quit 2>/dev/null)" ]]; then
    problems+=("buildah cgroups left under /sys/fs/cgroup")
  fi

  report_cleanup "$rc" "skiff root, buildah store and context removed; ${#ids[@]} skiff build containers checked: no state, mounts or cgroups; nothing of ours in /proc/mounts"
}
on_exit cleanup

# Run skiff from a private copy of the build: concurrent `npm test` runs
# rebuild dist/ in place. Same layout as the package (<pkg>/dist, <pkg>/native-bindings/build).
private_skiff_copy "$REPO" "$WORK/skiff"

# --- 3. the build context: a 10-step Dockerfile and ~5 MB of sources ----------
make_context() { # make_context DIR
  local dir=$1 i j
  mkdir -p "$dir/src/lib" "$dir/src/assets/img" "$dir/src/docs"
  # 12 incompressible files of 400 KiB (4.7 MiB) plus 40 small text files.
  for i in $(seq 1 6); do
    head -c 409600 /dev/urandom >"$dir/src/assets/img/pic$i.bin"
    head -c 409600 /dev/urandom >"$dir/src/lib/mod$i.so"
  done
  for i in $(seq 1 20); do
    for j in $(seq 1 50); do echo "line $j of module $i: lorem ipsum dolor sit amet"; done >"$dir/src/lib/mod$i.js"
    printf '# Doc %s\n\nSome text.\n' "$i" >"$dir/src/docs/doc$i.md"
  done
  chmod 755 "$dir/src/lib/mod1.js"
  echo "ignored" >"$dir/notes.tmp"
  printf '*.tmp\n' >"$dir/.dockerignore"
  # FROM + 9 steps: 2 ENV/WORKDIR, 4 RUN (one writes 4 MiB), 1 COPY, EXPOSE, CMD.
  cat >"$dir/Dockerfile" <<'DOCKERFILE'
FROM busybox:latest
ENV APP_HOME=/app GREETING=hello
WORKDIR /app
RUN mkdir -p data logs && echo "$GREETING from $APP_HOME" > hello.txt && date > built-at.txt
RUN i=0; while [ $i -lt 8 ]; do head -c 524288 /dev/urandom > data/blob$i; i=$((i+1)); done; ls data | wc -l
COPY src/ /app/src/
RUN find /app/src -type f | wc -l > /app/src-count.txt && du -sk /app > /app/du.txt && cat /app/src-count.txt
EXPOSE 8080
RUN rm -rf /app/logs && ln -s /app/hello.txt /hello
CMD ["sh", "-c", "cat /hello /app/src-count.txt"]
DOCKERFILE
}
make_context "$CTX"
STEPS=$(grep -c . "$CTX/Dockerfile")
log "context: $(du -sk "$CTX/src" | cut -f1) KiB in src/, $STEPS-step Dockerfile"

log "skiff root $SKIFF_ROOT, buildah store $BUILDAH_DIR"
"${SKIFF_CLI[@]}" load -i "$IMAGE_TAR" >/dev/null
"${BUILDAH[@]}" pull -q "docker-archive:$IMAGE_TAR" >/dev/null   # -> localhost/busybox:latest

# --- 4. timed runs ---------------------------------------------------------------
build_skiff_full()    { "${SKIFF_CLI[@]}" build --no-cache -t "$TAG" "$CTX"; }
build_skiff_cached()  { "${SKIFF_CLI[@]}" build -t "$TAG" "$CTX"; }
build_buildah_full()  { "${BUILDAH[@]}" "${BUD[@]}" --no-cache -t "$TAG" "$CTX"; }
build_buildah_cached(){ "${BUILDAH[@]}" "${BUD[@]}" -t "$TAG" "$CTX"; }

time_one() { # time_one TOOL KIND LOGFILE -> microseconds on stdout
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  "build_$1_$2" >"$3" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    echo "build.sh: $1 $2 build failed (exit $rc):" >&2; tail -30 "$3" >&2; exit 1
  fi
  check_log "$1" "$2" "$3"
  echo $((${t1/./} - ${t0/./}))
}

# A cached rebuild must hit the cache on every step after FROM and run
# nothing; a full build must run all 4 RUNs.
check_log() { # check_log TOOL KIND LOGFILE
  local hits runs want=$((STEPS - 1))
  hits=$(grep -c 'Using cache' "$3" || true)
  if [[ $1 == skiff ]]; then runs=$(grep -c -- '---> Running in' "$3" || true); else runs=-1; fi
  if [[ $2 == cached ]]; then
    if ((hits != want)) || ((runs > 0)); then
      echo "build.sh: $1 cached rebuild was not fully cached ($hits/$want 'Using cache'):" >&2; cat "$3" >&2; exit 1
    fi
  elif ((hits != 0)); then
    echo "build.sh: $1 --no-cache build used the cache ($hits hits):" >&2; cat "$3" >&2; exit 1
  fi
}

# Untimed, between rounds: drop the result and its intermediates so that
# every round starts from the same store (the base image only).
reset_skiff() {
  "${SKIFF_CLI[@]}" rmi "$TAG" >/dev/null
  "${SKIFF_CLI[@]}" image prune -f >/dev/null
}
reset_buildah() {
  # Untagging removes the image and its now unused intermediate parents.
  "${BUILDAH[@]}" rmi "localhost/$TAG" >/dev/null
  "${BUILDAH[@]}" rmi --prune >/dev/null
}
reset_stores() { reset_skiff; reset_buildah; }

round() { # round LABEL FIRST SECOND   (LABEL: warm or the round number)
  local l=$1 a=$2 b=$3 sfx=""
  [[ $l == warm ]] && sfx=.warm   # warm-up times are kept apart, not reported
  time_one "$a" full "$WORK/$a.full.$l.log" >>"$WORK/$a.full.us$sfx"
  time_one "$b" full "$WORK/$b.full.$l.log" >>"$WORK/$b.full.us$sfx"
  time_one "$a" cached "$WORK/$a.cached.$l.log" >>"$WORK/$a.cached.us$sfx"
  time_one "$b" cached "$WORK/$b.cached.$l.log" >>"$WORK/$b.cached.us$sfx"
  reset_stores
}

log "warm-up: 1 round (page cache, first-run setup of both stores)"
round warm skiff buildah

# Sanity: the skiff result shows every step's effect.
round_check() {
  "${SKIFF_CLI[@]}" build -t "$TAG" "$CTX" >"$WORK/skiff.check.log" 2>&1
  local out
  out="$("${SKIFF_CLI[@]}" run --rm --network none "$TAG" 2>&1)"
  [[ "$out" == $'hello from /app\n52' ]] || { echo "build.sh: unexpected output of the built image: $out" >&2; exit 1; }
  reset_skiff
}
round_check

# Alternate which tool goes first, so background load falls on both alike.
log "timing: $N rounds (full then cached, alternating tool order)"
for ((i = 1; i <= N; i++)); do
  if ((i % 2)); then round "$i" skiff buildah; else round "$i" buildah skiff; fi
  log "round $i/$N done"
done

# --- 5. per-step profile of skiff (untimed, one full + one cached build) -----
# Every output line gets a timestamp as it arrives (skiff writes stdout and
# stderr synchronously to pipes, so their order is kept); SKIFF_TRACE=1 adds
# the container phases of each RUN.
stamp() { local t0=$1 line; while IFS= read -r line; do printf '%s %s\n' "$(( ${EPOCHREALTIME/./} - t0 ))" "$line"; done; }
if ((PROFILE)); then
  for kind in full cached; do
    t0=${EPOCHREALTIME/./}
    { SKIFF_TRACE=1 "build_skiff_$kind" 2>&1; echo "__exit__"; } | stamp "$t0" >"$WORK/profile.$kind"
    t0=${EPOCHREALTIME/./}
    { "build_buildah_$kind" 2>&1; echo "__exit__"; } | stamp "$t0" >"$WORK/profile-buildah.$kind"
  done
fi

# --- 6. report -------------------------------------------------------------------
WORK="$WORK" N="$N" PROFILE="$PROFILE" node --input-type=module - <<'EOF'
import fs from 'node:fs';
const W = process.env.WORK, N = Number(process.env.N);
const read = (f) => fs.existsSync(`${W}/${f}`)
  ? fs.readFileSync(`${W}/${f}`, 'utf8').split('\n').filter(Boolean).map(Number) : [];
const median = (a) => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const sec = (us) => `${(us / 1e6).toFixed(3)} s`;

console.log(`build benchmark, N=${N} rounds (same run, alternating order)`);
console.log(`${'build'.padEnd(16)} ${'skiff'.padStart(9)} ${'buildah'.padStart(9)}  ratio  goal   runs (skiff | buildah)`);
for (const [kind, goal] of [['full', 1.0], ['cached', 0.5]]) {
  const s = read(`skiff.${kind}.us`), b = read(`buildah.${kind}.us`);
  const r = median(s) / median(b);
  const list = (a) => a.map((x) => (x / 1e6).toFixed(2)).join(' ');
  console.log(`${(kind === 'full' ? 'full (no cache)' : 'cached rebuild').padEnd(16)} ${sec(median(s)).padStart(9)} ${sec(median(b)).padStart(9)}  ${r.toFixed(2).padStart(5)}  <=${goal.toFixed(1)}  ${r <= goal ? 'met ' : 'MISS'}  ${list(s)} | ${list(b)}`);
}

if (process.env.PROFILE !== '1') process.exit(0);
// Profile: time from each output line to the next, grouped per step.
for (const kind of ['full', 'cached']) {
  const lines = fs.readFileSync(`${W}/profile.${kind}`, 'utf8').split('\n').filter(Boolean)
    .map((l) => { const i = l.indexOf(' '); return { t: Number(l.slice(0, i)) / 1000, text: l.slice(i + 1) }; });
  const end = lines.find((l) => l.text === '__exit__').t;
  const firstStep = lines.find((l) => l.text.startsWith('Step '));
  const done = lines.find((l) => l.text.startsWith('Successfully built'));
  console.log(`\nskiff ${kind === 'full' ? 'full build (--no-cache)' : 'cached rebuild'}: per-step profile of one untimed run, total ${end.toFixed(0)} ms`);
  console.log(`  ${'startup (node, CLI, Dockerfile, context)'.padEnd(58)} ${firstStep.t.toFixed(0).padStart(5)} ms`);
  // SKIFF_TRACE's cli-start mark: ms since the process started, when main.ts begins (node boot + ESM import of the CLI).
  const cli = lines.find((l) => l.text.startsWith('skiff-trace cli-start '));
  if (cli) console.log(`    ${'of which node boot + module load (cli-start mark)'.padEnd(56)} ${Number(cli.text.split(' ')[2]).toFixed(0).padStart(5)} ms`);
  const steps = [];
  lines.forEach((l, i) => { if (l.text.startsWith('Step ')) steps.push(i); });
  const phaseNames = { 'cgroup-ready': 'create + cgroup', 'rootfs-mounted': 'rootfs mount', cloned: 'clone', 'root-built': 'mounts + pivot_root', 'stub-ready': 'skiff-exec', exec: 'exec', exited: 'command' };
  steps.forEach((si, k) => {
    const stop = k + 1 < steps.length ? lines[steps[k + 1]] : done;
    const seg = lines.slice(si, lines.indexOf(stop) + 1);
    let detail = '';
    if (seg.some((l) => l.text.startsWith(' ---> Running in'))) {
      // RUN: Step -> Running in -> trace marks -> exited -> Removing (commit) -> ---> id (remove)
      const at = (p) => seg.find((l) => p(l.text))?.t;
      const tRun = at((t) => t.startsWith(' ---> Running in'));
      const tExit = at((t) => t.startsWith('skiff-trace exited'));
      const tRm = at((t) => t.startsWith('Removing intermediate'));
      const tId = seg.filter((l) => / ---> [0-9a-f]{12}$/.test(l.text)).pop()?.t ?? stop.t;
      const parts = [];
      let prev = tRun;
      for (const l of seg) {
        const m = /^skiff-trace (\S+)/.exec(l.text);
        if (m && phaseNames[m[1]]) { parts.push(`${phaseNames[m[1]]} ${(l.t - prev).toFixed(0)}`); prev = l.t; }
      }
      detail = `prep ${(tRun - seg[0].t).toFixed(0)}, ${parts.join(', ')}, commit ${(tRm - tExit).toFixed(0)}, rm ${(tId - tRm).toFixed(0)}`;
    }
    const title = seg[0].text.length > 56 ? `${seg[0].text.slice(0, 55)}…` : seg[0].text;
    console.log(`  ${title.padEnd(58)} ${(stop.t - seg[0].t).toFixed(0).padStart(5)} ms${detail ? `  (${detail})` : ''}`);
  });
  console.log(`  ${'tag + exit'.padEnd(58)} ${(end - done.t).toFixed(0).padStart(5)} ms`);
}

// buildah, for comparison: per-step time only (STEP line to the next one).
for (const kind of ['full', 'cached']) {
  const lines = fs.readFileSync(`${W}/profile-buildah.${kind}`, 'utf8').split('\n').filter(Boolean)
    .map((l) => { const i = l.indexOf(' '); return { t: Number(l.slice(0, i)) / 1000, text: l.slice(i + 1) }; });
  const end = lines.find((l) => l.text === '__exit__').t;
  const marks = lines.filter((l) => /^STEP \d+\/\d+: /.test(l.text) || l.text.startsWith('COMMIT ') || l.text.startsWith('Successfully tagged'));
  console.log(`\nbuildah ${kind === 'full' ? 'full build (--layers --no-cache)' : 'cached rebuild (--layers)'}: one untimed run, total ${end.toFixed(0)} ms`);
  console.log(`  ${'startup'.padEnd(58)} ${marks[0].t.toFixed(0).padStart(5)} ms`);
  marks.forEach((m, k) => {
    const next = k + 1 < marks.length ? marks[k + 1].t : end;
    const title = m.text.startsWith('Successfully') ? 'tagged -> exit' : m.text.length > 56 ? `${m.text.slice(0, 55)}…` : m.text;
    console.log(`  ${title.padEnd(58)} ${(next - m.t).toFixed(0).padStart(5)} ms`);
  });
}
EOF
