#!/usr/bin/env bash
# Network benchmark (a benchmark, not a test: it prints numbers, it judges none).
#
# 1. Start latency on a bridge: `skiff run --rm busybox true` (skiff's bridge)
#    against `podman run --rm busybox true` (podman's default bridge, netavark),
#    alternating, in the same run. Medians and the ratio.
# 2. Published ports: a busybox httpd in a skiff container, measured with wrk
#    (request rate on a 3-byte page: busybox httpd closes every connection, so
#    this is the connect rate; and the transfer rate of a 16 MiB file) and iperf3
#    (bulk TCP, the server entered into the container's netns), on three paths:
#      direct     the container's IP on the bridge
#      loopback   127.0.0.1:HOSTPORT (skiff's userland proxy, the default)
#      host addr  the bridge gateway:HOSTPORT (DNAT in the OUTPUT hook)
#    then again with "userland-proxy": false (loopback through DNAT too).
#    Medians over ROUNDS alternating rounds, and each path's ratio to direct.
#
# Traffic goes only to loopback and to addresses inside the bridge this script
# creates (its gateway and its container). The bridge, skiff's nft table,
# podman's state, netavark's firewall tables and ip_forward are put back as
# they were found, and checked, at exit.
#
# Usage: bench/network.sh                       N=20 start runs each, ROUNDS=3, SECS=3, RATE_SECS=1
#        N=10 ROUNDS=2 SECS=2 bench/network.sh
#        SKIFF_CLI=/path/to/main.cjs bench/network.sh   (default: a private copy of dist/bin/main.cjs)
#        STARTS_ONLY=1 bench/network.sh             part 1 only (no wrk/iperf3 needed)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${N:-20}"
ROUNDS="${ROUNDS:-3}"
SECS="${SECS:-3}"            # per throughput measurement
RATE_SECS="${RATE_SECS:-1}"  # per connect-rate measurement (see TIME_WAIT below)
WARMUP=2
STARTS_ONLY="${STARTS_ONLY:-0}"
export LC_ALL=C

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
IMAGE_TAR="rootfs-fixtures/out/busybox.tar"

[[ $EUID -eq 0 ]] || { echo "network.sh: must run as root" >&2; exit 1; }
[[ -n "${EPOCHREALTIME:-}" ]] || { echo "network.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }
log() { echo "# $*" >&2; }
exec 3>&1

# --- prerequisites --------------------------------------------------------------
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
if [[ $STARTS_ONLY != 1 ]]; then
  command -v wrk >/dev/null || need+=(wrk)
  command -v iperf3 >/dev/null || need+=(iperf3)
fi
[[ -x /usr/sbin/nft ]] || need+=(nftables)
command -v nsenter >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "${need[@]}"; }
  apt_install >&2 || { apt-get update -q >&2 && apt_install >&2; }
fi
NFT=/usr/sbin/nft   # not node_modules/.bin/nft (@vercel/nft) when run through npm
IP=/usr/sbin/ip; [[ -x $IP ]] || IP=/sbin/ip

if [[ -z "${SKIFF_CLI:-}" ]]; then
  if [[ ! -f dist/bin/main.cjs || ! -f native-bindings/build/libskiff.so ]]; then
    log "building skiff (npm run build)"; npm run build >&2
  fi
fi
[[ -s "$IMAGE_TAR" ]] || { log "building fixture images"; bash rootfs-fixtures/busybox.sh >&2; }

# --- host state as found -----------------------------------------------------------
FWD_BEFORE="$(cat /proc/sys/net/ipv4/ip_forward)"
TABLES_BEFORE="$($NFT list tables 2>/dev/null | sort)"
PODMAN0_BEFORE=0; [[ -e /sys/class/net/podman0 ]] && PODMAN0_BEFORE=1
# podman with the CNI backend (this machine's) uses cni-podman0 and keeps IPAM state in /var/lib/cni.
CNI_BRIDGE_BEFORE=0; [[ -e /sys/class/net/cni-podman0 ]] && CNI_BRIDGE_BEFORE=1
CNI_STATE_BEFORE=0; [[ -e /var/lib/cni ]] && CNI_STATE_BEFORE=1
libpod_parent_existed=0; compgen -G '/sys/fs/cgroup/*/libpod_parent' >/dev/null && libpod_parent_existed=1

# --- private state -----------------------------------------------------------------
export SKIFF_ROOT
SKIFF_ROOT="$(mktemp -d /tmp/skiff-netbench.XXXX)"; chmod 711 "$SKIFF_ROOT"
PODMAN_DIR="$(mktemp -d /tmp/skiff-netbench-podman.XXXX)"
WORK="$(mktemp -d /tmp/skiff-netbench-work.XXXX)"; chmod 711 "$WORK"
# A bridge and /24 of our own: never the user's skiff0.
export SKIFF_BRIDGE="sknb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
pick_subnet() { # a random 10.200-254.x.0/24 that no host route (any table) overlaps
  $IP -4 -j route show table all | node -e '
    const routes = JSON.parse(require("fs").readFileSync(0, "utf8")).map((r) => r.dst).filter((d) => d && d !== "default");
    const num = (a) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
    const used = routes.map((d) => { const [a, l = "32"] = d.split("/"); return [num(a), Number(l)]; });
    for (let i = 0; i < 1000; i++) {
      const p = `10.${200 + Math.floor(Math.random() * 55)}.${Math.floor(Math.random() * 256)}`, b = num(`${p}.0`);
      if (!used.some(([u, l]) => { const s = 2 ** (32 - Math.min(l, 24)); return Math.floor(u / s) === Math.floor(b / s); })) { console.log(p); process.exit(0); }
    }
    process.exit(1);'
}
NETP="$(pick_subnet)"
export SKIFF_SUBNET="$NETP.0/24"
GW="$NETP.1"

if [[ -n "${SKIFF_CLI:-}" ]]; then
  SK=(node "$SKIFF_CLI")
else
  # A private copy of the build, as bench/start.sh does: others' `npm test` rewrites dist/ in place.
  private_skiff_copy "$REPO" "$WORK/skiff"
  SK=("$WORK/skiff/dist/bin/main.cjs")   # the launcher, as `skiff` runs it
fi
PODMAN=(podman --root "$PODMAN_DIR/root" --runroot "$PODMAN_DIR/run" --tmpdir "$PODMAN_DIR/tmp"
  --network-config-dir "$PODMAN_DIR/net" --runtime runc)
[[ -d /run/systemd/system ]] || PODMAN+=(--cgroup-manager=cgroupfs --events-backend=file)
PODMAN_RUN=(run --rm --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
IPERF_PIDS=()

mounts_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }

cleanup() {
  local rc=$? problems=() p
  set +e
  trap - EXIT INT TERM
  for p in "${IPERF_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [[ -d "$SKIFF_ROOT" ]]; then
    local left; left="$("${SK[@]}" ps -aq 2>/dev/null)"
    # shellcheck disable=SC2086
    [[ -n "$left" ]] && "${SK[@]}" rm -f $left >/dev/null 2>&1
    "${SK[@]}" network prune -f >/dev/null 2>&1
  fi
  [[ -e /sys/class/net/$SKIFF_BRIDGE ]] && { problems+=("bridge $SKIFF_BRIDGE left"); $IP link del "$SKIFF_BRIDGE"; }
  $NFT list table ip "skiff-$SKIFF_BRIDGE" >/dev/null 2>&1 && { problems+=("nft table skiff-$SKIFF_BRIDGE left"); $NFT delete table ip "skiff-$SKIFF_BRIDGE"; }
  [[ -d /run/skiff/net/$SKIFF_BRIDGE ]] && { problems+=("skiff state of $SKIFF_BRIDGE left"); rm -rf "/run/skiff/net/$SKIFF_BRIDGE"; }
  if [[ -d "$PODMAN_DIR/root" ]]; then
    "${PODMAN[@]}" rm -a -f >/dev/null 2>&1
    "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1
    release_storage_home "$PODMAN_DIR/root"
  fi
  for root in "$SKIFF_ROOT" "$PODMAN_DIR"; do
    local m; m="$(mounts_under "$root")"
    [[ -n "$m" ]] && { problems+=("mounts left under $root"); sort -r <<<"$m" | xargs -r -n1 umount -l; }
  done
  # podman's netavark: its bridge and the iptables-nft tables it made; skiff's other tables are not ours to judge.
  ((PODMAN0_BEFORE)) || { [[ -e /sys/class/net/podman0 ]] && $IP link del podman0; }
  ((CNI_BRIDGE_BEFORE)) || { [[ -e /sys/class/net/cni-podman0 ]] && $IP link del cni-podman0; }
  ((CNI_STATE_BEFORE)) || rm -rf /var/lib/cni
  local t
  while read -r t; do
    [[ -z "$t" || "$t" == *" skiff-"* ]] && continue
    # shellcheck disable=SC2086
    grep -qxF "$t" <<<"$TABLES_BEFORE" || $NFT delete $t 2>/dev/null || problems+=("could not delete $t")
  done < <($NFT list tables 2>/dev/null | sort)
  if ((!libpod_parent_existed)); then
    for d in /sys/fs/cgroup/*/libpod_parent; do [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  fi
  # ip_forward: as found. netavark turns it on and never back off. If another skiff bridge still needs
  # forwarding, skiff restores the value it recorded when its last container goes: make that the value
  # found before podman touched it.
  if [[ -e /run/skiff/net/forward.json ]]; then
    if [[ "$FWD_BEFORE" == 0 ]]; then
      flock /run/skiff/net/forward.lock node -e '
        const fs = require("fs"), f = "/run/skiff/net/forward.json";
        if (fs.existsSync(f)) { const j = JSON.parse(fs.readFileSync(f, "utf8")); if (j.original === "1") { j.original = "0"; fs.writeFileSync(f + ".tmp", JSON.stringify(j, null, 2) + "\n"); fs.renameSync(f + ".tmp", f); } }'
    fi
  elif [[ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$FWD_BEFORE" ]]; then
    echo "$FWD_BEFORE" >/proc/sys/net/ipv4/ip_forward
  fi
  for root in "$SKIFF_ROOT" "$PODMAN_DIR" "$WORK"; do
    [[ -n "$(mounts_under "$root")" ]] || rm -rf "$root"
  done
  report_cleanup "$rc" "bridge, nft table, containers, podman store, netavark/CNI rules and state removed; ip_forward $(cat /proc/sys/net/ipv4/ip_forward), found $FWD_BEFORE"
}
on_exit cleanup

log "skiff root $SKIFF_ROOT, bridge $SKIFF_BRIDGE $SKIFF_SUBNET, podman store $PODMAN_DIR"
"${SK[@]}" load -q -i "$IMAGE_TAR" >/dev/null
"${PODMAN[@]}" load -q -i "$IMAGE_TAR" >/dev/null

# --- 1. start latency ------------------------------------------------------------------
run_skiff() { "${SK[@]}" run --rm busybox true; }
run_podman() { "${PODMAN[@]}" "${PODMAN_RUN[@]}" busybox true; }
time_one() {
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  "run_$1" >/dev/null 2>"$WORK/err" || rc=$?
  t1=$EPOCHREALTIME
  ((rc == 0)) || { echo "network.sh: $1 failed (exit $rc):" >&2; cat "$WORK/err" >&2; exit 1; }
  echo $((${t1/./} - ${t0/./}))
}
log "start latency: $WARMUP warm-up + $N timed runs each, alternating"
for ((i = 0; i < WARMUP; i++)); do time_one skiff >/dev/null; time_one podman >/dev/null; done
for ((i = 1; i <= N; i++)); do
  time_one skiff >>"$WORK/start.skiff"
  time_one podman >>"$WORK/start.podman"
done

# --- 2. published ports ------------------------------------------------------------------
# busybox httpd closes every connection, and a closed connection holds its
# (source, destination) pair in TIME_WAIT for 60 s. All three paths reach the
# container from the gateway address, so each path (and each mode) gets its
# own container port, or the paths measured later would find the ephemeral
# ports used up by the ones measured earlier.
HP0=$((20000 + RANDOM % 20000))
measure_mode() { # measure_mode MODE FIRST_CPORT: the container "bw" serves on FIRST_CPORT..+2, published as HP0+..
  local mode="$1" c="$2" ip pid r path url out order
  ip="$("${SK[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' bw)"
  pid="$("${SK[@]}" inspect -f '{{.State.Pid}}' bw)"
  nsenter --net="/proc/$pid/ns/net" iperf3 -s -p 5201 >/dev/null 2>&1 &
  IPERF_PIDS+=($!)
  declare -A host=([direct]="$ip" [loopback]=127.0.0.1 [hostaddr]="$GW")
  declare -A wport=([direct]=$c [loopback]=$((HP0 + 1)) [hostaddr]=$((HP0 + 2)))
  declare -A iport=([direct]=5201 [loopback]=$((HP0 + 3)) [hostaddr]=$((HP0 + 3)))
  sleep 0.5
  for ((r = 1; r <= ROUNDS; r++)); do
    # Rotate the order, so drift in the machine's load falls on every path alike.
    case $((r % 3)) in 1) order="direct loopback hostaddr" ;; 2) order="loopback hostaddr direct" ;; 0) order="hostaddr direct loopback" ;; esac
    for path in $order; do
      url="http://${host[$path]}:${wport[$path]}"
      out="$(wrk -t1 -c8 -d"${RATE_SECS}s" "$url/small")"
      awk '/^Requests\/sec:/ { print $2 }' <<<"$out" >>"$WORK/$mode.$path.rps"
      out="$(wrk -t1 -c4 -d"${SECS}s" "$url/big")"
      awk '/^Transfer\/sec:/ { v=$2; u=substr(v, length(v)-1); n=v+0; m=(u=="GB")?1024:(u=="MB")?1:(u=="KB")?1/1024:1/1048576; print n*m }' <<<"$out" >>"$WORK/$mode.$path.http"
      out="$(iperf3 -c "${host[$path]}" -p "${iport[$path]}" -t "$SECS" -J)"
      node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log((j.end.sum_received.bits_per_second/8/1048576).toFixed(1))' <<<"$out" >>"$WORK/$mode.$path.iperf"
    done
  done
  kill "${IPERF_PIDS[-1]}" 2>/dev/null || true
}
[[ $STARTS_ONLY == 1 ]] && ROUNDS=0
WEB=(busybox sh -c 'mkdir -p /www && echo ok > /www/small && dd if=/dev/zero of=/www/big bs=1M count=16 2>/dev/null && for p in 80 81 82 83 84 85; do httpd -p $p -h /www; done; exec sleep 100000')
c=80
for mode in proxy dnat; do
  [[ $STARTS_ONLY == 1 ]] && break
  proxy=1; [[ $mode == dnat ]] && proxy=0
  log "published ports, userland-proxy=$([[ $proxy == 1 ]] && echo true || echo false): $ROUNDS rounds x 3 paths, ${RATE_SECS}s/${SECS}s per measurement"
  SKIFF_USERLAND_PROXY=$proxy "${SK[@]}" run -d --name bw -p "$((HP0 + 1)):$((c + 1))" -p "$((HP0 + 2)):$((c + 2))" -p "$((HP0 + 3)):5201" "${WEB[@]}" >/dev/null
  measure_mode "$mode" "$c"
  "${SK[@]}" rm -f bw >/dev/null
  c=$((c + 3))
done

# --- report ----------------------------------------------------------------------------------
WORK="$WORK" N="$N" ROUNDS="$ROUNDS" node --input-type=module - <<'EOF'
import fs from 'node:fs';
const W = process.env.WORK;
const read = (f) => fs.existsSync(`${W}/${f}`) ? fs.readFileSync(`${W}/${f}`, 'utf8').split('\n').filter(Boolean).map(Number) : [];
const median = (a) => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const sk = read('start.skiff'), pd = read('start.podman');
console.log(`start latency on a bridge, N=${process.env.N} alternating runs each`);
console.log(`  skiff  run --rm busybox true (bridge)          median ${(median(sk) / 1e6).toFixed(3)} s  min ${(Math.min(...sk) / 1e6).toFixed(3)} s`);
console.log(`  podman run --rm busybox true (netavark bridge) median ${(median(pd) / 1e6).toFixed(3)} s  min ${(Math.min(...pd) / 1e6).toFixed(3)} s`);
console.log(`  ratio skiff/podman (median): ${(median(sk) / median(pd)).toFixed(2)}`);
if (process.env.ROUNDS === '0') process.exit(0);
console.log('');
console.log(`published ports (medians of ${process.env.ROUNDS} rounds; ratio = path / direct)`);
const row = (label, unit, k, mode) => {
  const d = median(read(`${mode}.direct.${k}`));
  const cells = ['direct', 'loopback', 'hostaddr'].map((p) => {
    const v = median(read(`${mode}.${p}.${k}`));
    return p === 'direct' ? `${v.toFixed(0)} ${unit}` : `${v.toFixed(0)} ${unit} (${(v / d).toFixed(2)}x)`;
  });
  console.log(`  ${label.padEnd(34)} ${cells.map((c) => c.padEnd(24)).join('')}`);
};
console.log(`  ${''.padEnd(34)} ${'direct (container IP)'.padEnd(24)}${'127.0.0.1:HOSTPORT'.padEnd(24)}${'gateway:HOSTPORT (DNAT)'.padEnd(24)}`);
for (const [mode, name] of [['proxy', 'userland-proxy=true (default)'], ['dnat', 'userland-proxy=false']]) {
  console.log(`  ${name}`);
  row('  wrk, 3-byte page (connect rate)', 'req/s', 'rps', mode);
  row('  wrk, 16 MiB file', 'MiB/s', 'http', mode);
  row('  iperf3 TCP', 'MiB/s', 'iperf', mode);
}
EOF
