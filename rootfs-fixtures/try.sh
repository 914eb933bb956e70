#!/usr/bin/env bash
# From a fresh clone to a shell inside a busybox container, in one command:
#   sudo bash rootfs-fixtures/try.sh
# Installs the npm dependencies (which builds skiff and its C helper), builds
# the busybox image from Debian's busybox-static package, loads it into the
# default store (/var/lib/skiff, or $SKIFF_ROOT) and runs `sh` in it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "skiff creates namespaces, mounts and cgroups: run this as root (sudo bash $0)" >&2
  exit 1
fi
[ -d node_modules ] || npm install --no-audit --no-fund
npm run --silent build
bash rootfs-fixtures/busybox.sh >/dev/null
skiff() { node dist/bin/main.mjs "$@"; }
skiff images -q busybox:latest | grep -q . || skiff load -i rootfs-fixtures/out/busybox.tar
echo "Inside a busybox container now; type 'exit' to leave."
exec node dist/bin/main.mjs run -it --rm busybox sh
