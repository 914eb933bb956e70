#!/usr/bin/env bash
# Build skiff's test/demo images from Debian's busybox-static package only.
# Outputs (in rootfs-fixtures/out/): busybox.tar, busybox-oci.tar,
# busybox-layered.tar, busybox-nocmd.tar, plus rootfs/ (the unpacked rootfs).
# Usage: rootfs-fixtures/busybox.sh [--force]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
OUT="$HERE/out"
CACHE="$OUT/cache"   # the downloaded .deb survives rebuilds
WORK="$OUT/work"     # scratch: layer dirs, staging dirs
ROOTFS="$OUT/rootfs" # the plain busybox rootfs, also handy for chroot tests
STAMP="$OUT/.stamp"
OUTPUTS=(busybox.tar busybox-oci.tar busybox-layered.tar busybox-nocmd.tar)

# Fixed values so that every build is byte-for-byte identical.
EPOCH_ISO="1970-01-01T00:00:00Z"
PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
umask 022
export LC_ALL=C TZ=UTC

# --- 1. fast path: outputs exist and were built by this exact script --------
want_stamp="$(sha256sum "$SELF" | cut -d' ' -f1)"
if [[ "${1:-}" != "--force" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
  all=1
  for f in "${OUTPUTS[@]}"; do [[ -s "$OUT/$f" ]] || all=0; done
  if [[ $all == 1 && -x "$ROOTFS/bin/busybox" ]]; then
    echo "$OUT"
    exit 0
  fi
fi

# chown (for /home/app) and a root-owned tree need root; skiff's tests run as root anyway.
if [[ $EUID -ne 0 ]]; then echo "busybox.sh: must run as root" >&2; exit 1; fi
for tool in apt-get dpkg tar gzip sha256sum ldd node; do
  command -v "$tool" >/dev/null || { echo "busybox.sh: missing $tool" >&2; exit 1; }
done

rm -f "$STAMP"
rm -rf "$WORK" "$ROOTFS"
mkdir -p "$CACHE" "$WORK"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Reproducible tar of a directory's contents (entries without a "./" prefix,
# like docker's). Ownership is taken as-is (numeric), so the tree must be
# chowned beforehand; PAX atime/ctime are dropped so only mtime (=0) remains.
repro_tar() { # repro_tar SRC_DIR OUT_TAR
  local src="$1" dst="$2"
  local -a entries
  mapfile -t entries < <(cd "$src" && ls -A | sort)
  tar -C "$src" --sort=name --mtime=@0 --numeric-owner \
      --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -cf "$dst" -- "${entries[@]}"
}

# --- 2. get busybox-static ---------------------------------------------------
deb="$(ls "$CACHE"/busybox-static_*.deb 2>/dev/null | head -n1 || true)"
if [[ -z "$deb" ]]; then
  # Only refresh the package lists when we have none or the download fails.
  if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then apt-get update -q; fi
  # Sandbox user root: the _apt user cannot write into our cache dir.
  dl() { (cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root busybox-static); }
  if ! dl; then apt-get update -q; dl; fi
  deb="$(ls "$CACHE"/busybox-static_*.deb | head -n1)"
fi
echo "using $(basename "$deb")"
rm -rf "$WORK/deb"
dpkg -x "$deb" "$WORK/deb"
BB_SRC="$WORK/deb/bin/busybox"
[[ -x "$BB_SRC" ]] || BB_SRC="$WORK/deb/usr/bin/busybox"
[[ -x "$BB_SRC" ]] || { echo "busybox.sh: no busybox binary in $deb" >&2; exit 1; }
# Refuse a dynamic binary: the rootfs has no libc, so it must be static.
ldd_out="$(ldd "$BB_SRC" 2>&1 || true)"
case "$ldd_out" in
  *"not a dynamic executable"*|*"statically linked"*) ;;
  *) echo "busybox.sh: $BB_SRC is not static:" >&2; echo "$ldd_out" >&2; exit 1 ;;
esac

# --- 3. the rootfs -----------------------------------------------------------
mkdir -p "$ROOTFS"
(cd "$ROOTFS" && mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys var root tmp home/app)
install -m 0755 "$BB_SRC" "$ROOTFS/bin/busybox"
# Same result as `busybox --install -s`, but without needing chroot: one
# absolute symlink per applet (absolute is resolved inside the container's root).
# Only bin/sbin/usr dirs: skip "linuxrc" (initrd-only, not in real images).
# Pure-bash loop (no dirname/mkdir per applet) keeps this fast.
while IFS= read -r applet; do
  case "$applet" in bin/*|sbin/*|usr/bin/*|usr/sbin/*) ;; *) continue ;; esac
  [[ -e "$ROOTFS/$applet" || -L "$ROOTFS/$applet" ]] && continue
  ln -s /bin/busybox "$ROOTFS/$applet"
done < <("$ROOTFS/bin/busybox" --list-full)
[[ -L "$ROOTFS/bin/sh" ]] || { echo "busybox.sh: busybox has no sh applet" >&2; exit 1; }

cat > "$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$ROOTFS/etc/group" <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
EOF
: > "$ROOTFS/etc/hostname"
# Normalise ownership and modes: everything root, except the app user's home.
chown -R 0:0 "$ROOTFS"
chmod 0700 "$ROOTFS/root"
chmod 1777 "$ROOTFS/tmp"
chown 1000:1000 "$ROOTFS/home/app"

# --- 4. layers -----------------------------------------------------------------
repro_tar "$ROOTFS" "$WORK/base.tar"

# Layered image, layer 1: the rootfs plus files that layer 2 deletes/hides.
L1="$WORK/layer1"; L2="$WORK/layer2"
cp -a "$ROOTFS" "$L1"
echo old > "$L1/etc/old.txt"
mkdir -p "$L1/opt/stuff"
echo a > "$L1/opt/stuff/a"
echo b > "$L1/opt/stuff/b"
# Layer 2: docker-style whiteout of /etc/old.txt, opaque /opt/stuff with a new c, /new.txt.
mkdir -p "$L2/etc" "$L2/opt/stuff"
: > "$L2/etc/.wh.old.txt"
: > "$L2/opt/stuff/.wh..wh..opq"
echo c > "$L2/opt/stuff/c"
echo layer2 > "$L2/new.txt"
chown -R 0:0 "$L1" "$L2"
chown 1000:1000 "$L1/home/app"
repro_tar "$L1" "$WORK/layered1.tar"
repro_tar "$L2" "$WORK/layered2.tar"

# --- 5. images ---------------------------------------------------------------
# JSON is written by node (not printf) so escaping is right; one node start per
# image. Layer digests come from sha256sum; node hashes the JSON it writes.
# Shared JS prelude: cfg(cmd, diffIds) -> image config bytes, and a writer that
# names a blob after its own sha256.
JS_COMMON='
const fs = require("fs"), crypto = require("crypto");
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");
const created = process.env.EPOCH_ISO;
function cfg(cmd, diffIds) {
  const config = { Env: [process.env.PATH_ENV] };
  if (cmd !== "null") config.Cmd = JSON.parse(cmd);  // nocmd image: neither Cmd nor Entrypoint
  return JSON.stringify({
    architecture: "amd64", os: "linux", created, config,
    rootfs: { type: "layers", diff_ids: diffIds.map((h) => "sha256:" + h) },
    history: diffIds.map((_, i) => ({ created,
      created_by: i === 0 ? "skiff rootfs-fixtures: busybox-static rootfs" : "skiff rootfs-fixtures: layer " + (i + 1) })),
  });
}
'
export EPOCH_ISO PATH_ENV

# docker_archive OUT_TAR REPO:TAG CMD_JSON|null LAYER_TAR...  (the `docker save` format)
docker_archive() {
  local out="$1" tag="$2" cmd="$3"; shift 3
  local stage="$WORK/stage-$(basename "$out" .tar)" l hex
  local -a hexes=()
  rm -rf "$stage"; mkdir -p "$stage"
  for l in "$@"; do
    hex="$(sha "$l")"   # diff_id = digest of the uncompressed layer tar
    mkdir -p "$stage/$hex"
    cp "$l" "$stage/$hex/layer.tar"
    hexes+=("$hex")
  done
  node -e "$JS_COMMON"'
    const [stage, tag, cmd, ...hexes] = process.argv.slice(1);
    const config = cfg(cmd, hexes);
    const cfgName = sha(config) + ".json";   // docker names the config after its digest
    fs.writeFileSync(stage + "/" + cfgName, config);
    fs.writeFileSync(stage + "/manifest.json", JSON.stringify([
      { Config: cfgName, RepoTags: [tag], Layers: hexes.map((h) => h + "/layer.tar") }]));
    // legacy "repositories": repo -> tag -> top layer id
    const i = tag.lastIndexOf(":");
    fs.writeFileSync(stage + "/repositories",
      JSON.stringify({ [tag.slice(0, i)]: { [tag.slice(i + 1)]: hexes[hexes.length - 1] } }) + "\n");
  ' "$stage" "$tag" "$cmd" "${hexes[@]}"
  chown -R 0:0 "$stage"
  repro_tar "$stage" "$out.tmp"
  mv "$out.tmp" "$out"
}

# oci_archive OUT_TAR REFNAME CMD_JSON|null LAYER_TAR...  (OCI image-layout, as a tar)
oci_archive() {
  local out="$1" ref="$2" cmd="$3"; shift 3
  local stage="$WORK/stage-$(basename "$out" .tar)" l hex
  local blobs="$stage/blobs/sha256"
  local -a pairs=()
  rm -rf "$stage"; mkdir -p "$blobs"
  for l in "$@"; do
    # gzip -n: no name/timestamp in the gzip header, so the blob digest is stable.
    gzip -n -c "$l" > "$WORK/layer.tgz"
    hex="$(sha "$WORK/layer.tgz")"
    mv "$WORK/layer.tgz" "$blobs/$hex"
    pairs+=("$(sha "$l"):$hex")   # diff_id:compressed-blob
  done
  node -e "$JS_COMMON"'
    const [stage, ref, cmd, ...pairs] = process.argv.slice(1);
    const blobs = stage + "/blobs/sha256/";
    const put = (bytes) => { const h = sha(bytes); fs.writeFileSync(blobs + h, bytes); return h; };
    const desc = (mediaType, hex) => ({ mediaType, digest: "sha256:" + hex, size: fs.statSync(blobs + hex).size });
    const cfgHex = put(cfg(cmd, pairs.map((p) => p.split(":")[0])));
    const manHex = put(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: desc("application/vnd.oci.image.config.v1+json", cfgHex),
      layers: pairs.map((p) => desc("application/vnd.oci.image.layer.v1.tar+gzip", p.split(":")[1])),
    }));
    fs.writeFileSync(stage + "/oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    fs.writeFileSync(stage + "/index.json", JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ ...desc("application/vnd.oci.image.manifest.v1+json", manHex),
        platform: { architecture: "amd64", os: "linux" },
        annotations: { "org.opencontainers.image.ref.name": ref } }],
    }));
  ' "$stage" "$ref" "$cmd" "${pairs[@]}"
  chown -R 0:0 "$stage"
  repro_tar "$stage" "$out.tmp"
  mv "$out.tmp" "$out"
}

docker_archive "$OUT/busybox.tar"         busybox:latest '["sh"]' "$WORK/base.tar"
oci_archive    "$OUT/busybox-oci.tar"     latest         '["sh"]' "$WORK/base.tar"
docker_archive "$OUT/busybox-layered.tar" layered:latest '["sh"]' "$WORK/layered1.tar" "$WORK/layered2.tar"
docker_archive "$OUT/busybox-nocmd.tar"   nocmd:latest   null     "$WORK/base.tar"

# Keep the deb cache and the rootfs; drop the scratch copies.
rm -rf "$WORK"
echo "$want_stamp" > "$STAMP"

# --- 6. where things are -----------------------------------------------------
echo "$OUT"
for f in "${OUTPUTS[@]}"; do echo "  $f"; done
echo "  rootfs/ (unpacked busybox rootfs)"
