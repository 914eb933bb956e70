#!/usr/bin/env bash
# Builds the pull/push benchmark image "big": a reproducible, multi-layer OCI
# image layout (a directory) of ~79 MiB of layer tars / ~52 MiB gzip-compressed,
# made only from what is on this machine: the busybox fixture plus generated
# files. Every build is byte-for-byte identical (same manifest digest).
#
#   layer 1  busybox rootfs (rootfs-fixtures/out/busybox.tar)        ~2 MiB
#   layer 2  /usr/share/bench-text: ~1500 text files, seeded words    ~16 MiB, gzips ~2.3x
#   layer 3  /opt/bench/lib: 48 "binary-like" files (random blocks
#            mixed with repeated-pattern and zero blocks)           ~32 MiB, gzips ~2x
#   layer 4  /opt/bench/data: incompressible AES-CTR keystream      ~28 MiB, gzips ~1x
#   layer 5  small config files, one whiteout, one opaque directory
#
# Generators: a seeded mulberry32 PRNG (text, sizes, block kinds) and
# AES-128-CTR over zeros with a fixed key (random data), both in Node, so the
# bytes do not depend on the locale, awk flavour or OpenSSL's KDF.
# Layers: tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner
# (PAX, atime/ctime dropped), gzip -n -6.
#
# Usage: bench/make-big-image.sh OUT_DIR
#   OUT_DIR becomes an OCI image layout with the tag "1" (oci:OUT_DIR:1).
#   It also gets layers.tsv: "blob-path<TAB>compressed-bytes<TAB>tar-bytes" per layer.
#   An OUT_DIR built by this exact script version is reused as is.
# Prints the manifest digest on stdout; progress on stderr.
set -euo pipefail

OUT="${1:?usage: make-big-image.sh OUT_DIR}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
BUSYBOX_TAR="$REPO/rootfs-fixtures/out/busybox.tar"
umask 022
export LC_ALL=C TZ=UTC

[[ $EUID -eq 0 ]] || { echo "make-big-image.sh: must run as root (root-owned layer trees)" >&2; exit 1; }
for tool in tar gzip sha256sum node; do
  command -v "$tool" >/dev/null || { echo "make-big-image.sh: missing $tool" >&2; exit 1; }
done

stamp="$(sha256sum "$SELF" | cut -d' ' -f1)"
if [[ -f "$OUT/.stamp" && "$(cat "$OUT/.stamp")" == "$stamp" && -f "$OUT/index.json" && -f "$OUT/.digest" ]]; then
  cat "$OUT/.digest"
  exit 0
fi

# The busybox fixture: built only when missing (other jobs may be reading it).
if [[ ! -s "$BUSYBOX_TAR" ]]; then
  echo "# building rootfs-fixtures/out/busybox.tar" >&2
  bash "$REPO/rootfs-fixtures/busybox.sh" >&2
fi

rm -rf "$OUT"
mkdir -p "$OUT/blobs/sha256"
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/skiff-big-image.XXXX")"
trap 'rm -rf "$STAGE"' EXIT

# --- 1. layer trees --------------------------------------------------------------
mkdir -p "$STAGE/l1" "$STAGE/l2" "$STAGE/l3" "$STAGE/l4" "$STAGE/l5"
# Layer 1 is the fixture's own layer tar, taken unchanged (its diff_id is kept).
layer1="$(tar -xOf "$BUSYBOX_TAR" manifest.json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].Layers[0]))')"
tar -xOf "$BUSYBOX_TAR" "$layer1" >"$STAGE/layer1.tar"

echo "# generating layer contents" >&2
STAGE="$STAGE" node --input-type=module - <<'EOF'
import fs from 'node:fs';
import crypto from 'node:crypto';
const S = process.env.STAGE;

// mulberry32: tiny, seeded, identical on every platform.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// Deterministic incompressible bytes: AES-128-CTR keystream (key/iv from a label).
function keystream(label, n) {
  const key = crypto.createHash('sha256').update(`skiff-bench:${label}`).digest();
  const c = crypto.createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return c.update(Buffer.alloc(n));
}
const write = (p, data, mode = 0o644) => {
  fs.mkdirSync(p.slice(0, p.lastIndexOf('/')), { recursive: true });
  fs.writeFileSync(p, data, { mode });
  fs.chmodSync(p, mode); // umask-independent
};

// --- layer 2: text. A 6000-word vocabulary, Zipf-like word choice, sentences
// and paragraphs: compresses about like English prose / man pages.
{
  const r = rng(2);
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  const vocab = [];
  for (let i = 0; i < 6000; i++) {
    const len = 2 + Math.floor(r() * r() * 11);
    let w = '';
    for (let j = 0; j < len; j++) w += letters[Math.floor(r() * r() * letters.length)];
    vocab.push(w);
  }
  const word = () => vocab[Math.floor(vocab.length * r() ** 3)];
  const target = 16 * 1024 * 1024;
  let total = 0;
  for (let f = 0; total < target; f++) {
    // Log-uniform sizes 256 B .. 64 KiB.
    const size = Math.floor(256 * 256 ** r());
    const parts = [];
    let n = 0;
    while (n < size) {
      let s = '';
      const words = 4 + Math.floor(r() * 14);
      for (let k = 0; k < words; k++) s += (k ? ' ' : '') + word();
      s = s[0].toUpperCase() + s.slice(1) + (r() < 0.15 ? '.\n\n' : '. ');
      parts.push(s);
      n += s.length;
    }
    const body = parts.join('');
    const dir = `pkg${String(f % 97).padStart(2, '0')}`;
    write(`${S}/l2/usr/share/bench-text/${dir}/doc-${String(f).padStart(5, '0')}.txt`, body);
    total += body.length;
  }
}

// --- layer 3: "binaries": 4 KiB blocks, each random (45%), a repeated short
// pattern with sparse mutations (35%, like code/tables), or zeros (20%).
{
  const r = rng(3);
  const rand = keystream('l3', 40 * 1024 * 1024);
  let off = 0;
  const total = 32 * 1024 * 1024;
  const files = 48;
  let left = total;
  for (let f = 0; f < files; f++) {
    const blocks = f === files - 1 ? Math.ceil(left / 4096) : Math.max(16, Math.round((total / files / 4096) * (0.3 + 1.4 * r())));
    const buf = Buffer.alloc(blocks * 4096);
    for (let b = 0; b < blocks; b++) {
      const x = r();
      const blk = buf.subarray(b * 4096, (b + 1) * 4096);
      if (x < 0.45) {
        rand.copy(blk, 0, off, off + 4096);
        off += 4096;
      } else if (x < 0.8) {
        const plen = 16 + Math.floor(r() * 48);
        const pat = rand.subarray(off, off + plen);
        off += plen;
        for (let i = 0; i < 4096; i++) blk[i] = pat[i % plen];
        for (let m = 0; m < 64; m++) blk[Math.floor(r() * 4096)] = Math.floor(r() * 256);
      } // else: zeros
    }
    left -= buf.length;
    write(`${S}/l3/opt/bench/lib/libbench${String(f).padStart(2, '0')}.so`, buf, 0o755);
    if (left <= 0) break;
  }
  write(`${S}/l3/opt/bench/lib/plugins/old-plugin.so`, keystream('l3-plugin', 64 * 1024), 0o755);
}

// --- layer 4: incompressible data (media, already-compressed archives).
{
  write(`${S}/l4/opt/bench/data/archive.bin`, keystream('l4-archive', 24 * 1024 * 1024));
  for (let i = 0; i < 4; i++) write(`${S}/l4/opt/bench/data/asset-${i}.bin`, keystream(`l4-asset-${i}`, 1024 * 1024));
}

// --- layer 5: small changes on top, including Docker-style whiteouts.
{
  write(`${S}/l5/etc/bench.conf`, 'mode=benchmark\nlayers=5\n');
  write(`${S}/l5/usr/share/bench-text/pkg00/.wh.doc-00000.txt`, '');
  write(`${S}/l5/opt/bench/lib/plugins/.wh..wh..opq`, '');
  write(`${S}/l5/opt/bench/lib/plugins/new-plugin.so`, keystream('l5-plugin', 32 * 1024), 0o755);
}
EOF
# Directories: 0755, whatever mkdir produced under any umask.
find "$STAGE"/l2 "$STAGE"/l3 "$STAGE"/l4 "$STAGE"/l5 -type d -exec chmod 0755 {} +

repro_tar() { # repro_tar SRC_DIR OUT_TAR: entries without "./", like docker's
  local src="$1" dst="$2"
  local -a entries
  mapfile -t entries < <(cd "$src" && ls -A | sort)
  tar -C "$src" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
      --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -cf "$dst" -- "${entries[@]}"
}
for i in 2 3 4 5; do repro_tar "$STAGE/l$i" "$STAGE/layer$i.tar"; done

# --- 2. blobs + OCI layout -----------------------------------------------------------
echo "# compressing layers" >&2
sha() { sha256sum "$1" | cut -d' ' -f1; }
: >"$STAGE/layers.txt"
for i in 1 2 3 4 5; do
  gzip -n -6 -c "$STAGE/layer$i.tar" >"$STAGE/layer$i.tgz"
  d="$(sha "$STAGE/layer$i.tgz")"
  mv "$STAGE/layer$i.tgz" "$OUT/blobs/sha256/$d"
  printf '%s %s %s %s\n' "$d" "$(stat -c %s "$OUT/blobs/sha256/$d")" "$(sha "$STAGE/layer$i.tar")" "$(stat -c %s "$STAGE/layer$i.tar")" >>"$STAGE/layers.txt"
done

OUT="$OUT" STAGE="$STAGE" node --input-type=module - <<'EOF'
import fs from 'node:fs';
import crypto from 'node:crypto';
const OUT = process.env.OUT;
const layers = fs.readFileSync(`${process.env.STAGE}/layers.txt`, 'utf8').trim().split('\n').map((l) => {
  const [digest, size, diff, tarSize] = l.split(' ');
  return { digest: `sha256:${digest}`, size: Number(size), diffId: `sha256:${diff}`, tarSize: Number(tarSize) };
});
const put = (obj) => {
  const bytes = Buffer.from(JSON.stringify(obj));
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(`${OUT}/blobs/sha256/${hex}`, bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
};
const epoch = '1970-01-01T00:00:00Z';
const steps = ['busybox-static rootfs', 'generated text (/usr/share/bench-text)', 'generated binaries (/opt/bench/lib)',
  'incompressible data (/opt/bench/data)', 'config + whiteouts'];
const config = put({
  architecture: 'amd64', os: 'linux', created: epoch,
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
  rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  history: steps.map((s) => ({ created: epoch, created_by: `skiff bench/make-big-image.sh: ${s}` })),
});
const manifest = put({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
  layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
});
fs.writeFileSync(`${OUT}/oci-layout`, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
fs.writeFileSync(`${OUT}/index.json`, JSON.stringify({
  schemaVersion: 2,
  manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } }],
}));
fs.writeFileSync(`${OUT}/layers.tsv`, layers.map((l) => `blobs/sha256/${l.digest.slice(7)}\t${l.size}\t${l.tarSize}\n`).join(''));
fs.writeFileSync(`${OUT}/.digest`, `${manifest.digest}\n`);
const mib = (n) => (n / 1048576).toFixed(1);
const c = layers.reduce((s, l) => s + l.size, 0), u = layers.reduce((s, l) => s + l.tarSize, 0);
process.stderr.write(`# image: ${layers.length} layers, ${mib(c)} MiB compressed, ${mib(u)} MiB of layer tars; manifest ${manifest.digest}\n`);
EOF
echo "$stamp" >"$OUT/.stamp"
cat "$OUT/.digest"
