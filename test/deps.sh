#!/usr/bin/env bash
# The system packages skiff needs, installed with apt-get (Debian 12, as root).
#   bash test/deps.sh run    what running skiff needs (rootfs-fixtures/try.sh calls this)
#   bash test/deps.sh test   that, plus what `npm test` needs (test/run.mjs and .ci/run call this)
#   bash test/deps.sh list test   print the package names only
# When everything is installed it only asks dpkg once (a few ms) and exits 0.
# Node 20 and npm are not installed here: the README's commands start with npm.
set -euo pipefail

# Running: cc + a static libc build native-bindings/ (skiff-exec is static);
# ip and nft make the bridge network; nsenter/ipcmk are util-linux; tar, gzip
# and apt-get download build the busybox fixture.
RUN=(gcc libc6-dev iproute2 nftables util-linux tar gzip)
# Testing: the real peers and tools the tests call. getfattr (attr) checks
# xattrs after unpacking; skopeo, docker-registry, htpasswd (apache2-utils) and
# openssl (a TLS certificate) are the registry tests' peers; vagrant with its
# libvirt provider validates the Vagrantfile; qemu, a stock kernel, a static
# busybox and xz (to unpack the kernel) make the cgroup-v2 VM lane (test/vm),
# and mkfs.ext4 (e2fsprogs) its scratch disk; iptables (FORWARD policy tests),
# strace (counting a run's execs), sysctl (procps) and script (bsdutils, a real
# terminal) are called by the integration tests; docker.io's client and
# docker-py (python3-docker) drive `skiff system service` (api.test.ts), and so
# does docker-compose 1.29 (compose.test.ts);
# podman, containerd (ctr) and docker.io (dockerd) drive skiff-runc as real
# OCI clients (oci.test.ts).
TEST=(attr openssl skopeo docker-registry apache2-utils vagrant vagrant-libvirt xz-utils qemu-system-x86 linux-image-amd64 busybox-static docker-compose
  e2fsprogs iptables strace procps bsdutils docker.io python3-docker podman containerd)

mode=${1:-}
case "$mode" in
  run) want=("${RUN[@]}") ;;
  test) want=("${RUN[@]}" "${TEST[@]}") ;;
  list) shift; case "${1:-}" in run) echo "${RUN[*]}" ;; *) echo "${RUN[*]} ${TEST[*]}" ;; esac; exit 0 ;;
  *) echo "usage: $0 run|test|list [run|test]" >&2; exit 2 ;;
esac

# One dpkg-query for all of them ("ii": installed and configured); packages
# dpkg has never heard of print nothing, so they stay missing too.
declare -A ok=()
while read -r pkg status; do
  [[ $status == ii* ]] && ok[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${want[@]}" 2>/dev/null || true)
missing=()
for p in "${want[@]}"; do [[ -n ${ok[$p]:-} ]] || missing+=("$p"); done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $EUID -ne 0 ]]; then
  echo "deps.sh: missing system packages: ${missing[*]}" >&2
  echo "deps.sh: install them as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Stale or absent package lists are the usual reason an install fails on a fresh machine.
apt-get update -qq -o DPkg::Lock::Timeout=600
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
