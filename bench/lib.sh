# Shared by the bench/*.sh scripts (sourced, not run).

# private_skiff_copy REPO DEST: a private copy of the built skiff to run from,
# with no per-verb code cache yet (see below).
# Concurrent `npm test` runs rebuild dist/ in place, and a benchmark that
# loads half-rewritten modules fails. The copy keeps the package layout
# (<pkg>/package.json, <pkg>/dist, <pkg>/native-bindings/build), which is how
# skiff finds its stage scripts and C helpers.
private_skiff_copy() {
  local repo=$1 dest=$2
  mkdir -p "$dest/native-bindings"
  cp -a "$repo/dist" "$repo/package.json" "$dest/"
  cp -a "$repo/native-bindings/build" "$dest/native-bindings/"
  # Each verb's code cache is written by its first run, and holds the
  # functions that run compiled: one left by a test's `ps -aq` lacks what a
  # plain `ps` compiles (+2 ms a run). Start from what a fresh build has, so
  # the warm-up runs write the caches of the commands being measured.
  rm -f "$dest"/dist/bin/cache/*-*.v8
  ln -s "$repo/node_modules" "$dest/node_modules"
  chmod 755 "$dest"
}

# release_storage_home ROOT: containers/storage's overlay driver (podman,
# buildah) bind-mounts its home, ROOT/overlay, on itself and leaves it mounted
# by design; after `rmi -a` it is unmounted here rather than reported as a leak.
release_storage_home() {
  if mountpoint -q "$1/overlay"; then umount "$1/overlay"; fi
}

# containers/image (podman, skopeo, buildah) keeps root's blob-info cache in
# /var/lib/containers/cache whatever --root says; a benchmark that made that
# directory removes it at exit (test/run.mjs does the same for the tests).
CONTAINERS_DIR_EXISTED=0
[[ -e /var/lib/containers ]] && CONTAINERS_DIR_EXISTED=1
forget_containers_cache() {
  if ((!CONTAINERS_DIR_EXISTED)); then rm -rf /var/lib/containers; fi
}

# report_cleanup RC OK_MESSAGE: the last line of every benchmark. Reads the
# caller's `problems` array; exits with RC, or 1 if anything was left behind.
report_cleanup() {
  local rc=$1 ok=$2
  forget_containers_cache
  echo >&3
  if ((${#problems[@]} == 0)); then
    echo "cleanup: ok ($ok)" >&3
  else
    printf 'cleanup: PROBLEM: %s\n' "${problems[@]}" >&3
    ((rc == 0)) && rc=1
  fi
  exit "$rc"
}

# on_exit FUNCTION: run it on exit, and turn Ctrl-C / kill into an exit so it runs.
on_exit() {
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
