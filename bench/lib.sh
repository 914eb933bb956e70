# Shared by the bench/*.sh scripts (sourced, not run).

# private_skiff_copy REPO DEST: a private copy of the built skiff to run from.
# Concurrent `npm test` runs rebuild dist/ in place, and a benchmark that
# loads half-rewritten modules fails. The copy keeps the package layout
# (<pkg>/package.json, <pkg>/dist, <pkg>/native-bindings/build), which is how
# skiff finds its stage scripts and C helpers.
private_skiff_copy() {
  local repo=$1 dest=$2
  mkdir -p "$dest/native-bindings"
  cp -a "$repo/dist" "$repo/package.json" "$dest/"
  cp -a "$repo/native-bindings/build" "$dest/native-bindings/"
  ln -s "$repo/node_modules" "$dest/node_modules"
  chmod 755 "$dest"
}
