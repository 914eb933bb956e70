#!/usr/bin/env bash
# From a fresh clone to a shell inside a busybox container, in one command, as root:
#   bash rootfs-fixtures/try.sh              (not root? sudo bash rootfs-fixtures/try.sh)
#   bash rootfs-fixtures/try.sh --no-shell [--no-build]   all of it but the shell (test/vm/provision.sh)
# Installs the system packages skiff needs to run (test/deps.sh run) and the
# npm dependencies, builds skiff when a source is newer than the build, puts
# `skiff` in /usr/local/bin, builds the busybox image from Debian's
# busybox-static package, loads it into the default store (/var/lib/skiff, or
# $SKIFF_ROOT) and runs `sh` in it. A second run skips what is done already.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "skiff creates namespaces, mounts and cgroups: run this as root (sudo bash $0)" >&2
  exit 1
fi
bash test/deps.sh run
# npm install runs the build too (the package's prepare script).
[ -d node_modules ] || npm install --no-audit --no-fund
stamp=dist/bin/main.cjs   # the build's last output
if [ "${2:-}" = --no-build ] && [ -f "$stamp" ]; then
  :   # the VM lane's guest uses the build of the host that shares its files with it
elif [ ! -f "$stamp" ] || [ -n "$(find runtime native-bindings test tools \( -name '*.ts' -o -name '*.c' -o -name '*.h' -o -name '*.mjs' \) \
      -newer "$stamp" -print -quit)" ] || [ -n "$(find package.json package-lock.json tsconfig.json -newer "$stamp" -print -quit)" ]; then
  echo "building skiff (a source is newer than $stamp)"
  npm run --silent build
fi
# A small wrapper rather than a link to the bundle: it survives rebuilds, which replace dist/bin.
# It execs the launcher itself, whose hashbang keeps NODE_EXTRA_CA_CERTS from slowing Node's start.
wrapper="#!/bin/sh
exec $(printf '%q' "$PWD/dist/bin/main.cjs") \"\$@\""
if [ "$(cat /usr/local/bin/skiff 2>/dev/null)" != "$wrapper" ]; then
  printf '%s\n' "$wrapper" >/usr/local/bin/skiff.tmp && chmod 755 /usr/local/bin/skiff.tmp && mv /usr/local/bin/skiff.tmp /usr/local/bin/skiff
  echo "skiff is now /usr/local/bin/skiff (runs $PWD/dist/bin/main.cjs)"
fi
bash rootfs-fixtures/busybox.sh >/dev/null
skiff=/usr/local/bin/skiff
"$skiff" images -q busybox:latest | grep -q . || "$skiff" load -i rootfs-fixtures/out/busybox.tar
[ "${1:-}" = --no-shell ] && exit 0
echo "Inside a busybox container now; type 'exit' to leave. Later: skiff run --rm -it busybox sh"
exec "$skiff" run -it --rm busybox sh
