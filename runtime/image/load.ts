// `skiff load`: imports a docker-archive tar (the `docker save` format) or an
// OCI image-layout tar (what `skopeo copy ... oci-archive:` writes).
//
// The outer archive is first extracted to a private temp dir (file names are
// checked; nothing outside it is written), then every blob is verified by
// digest before it reaches the store. A corrupt archive leaves nothing behind.
import {
  closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { diskFailure, SkiffError } from '../util/errors.js';
import { paths } from '../util/paths.js';
import { mark } from '../util/trace.js';
import { decompressed, isGzip } from '../util/stream.js';
import { normalizeReference } from './reference.js';
import {
  type Descriptor, hexOf, type ImageManifest, type ImageStore, makeManifest, MEDIA, parseConfig, parseManifest, sha256,
} from './store.js';

export interface LoadedImage {
  id: string;
  tags: string[];
}

export async function loadArchive(store: ImageStore, input: Readable): Promise<LoadedImage[]> {
  mkdirSync(paths.tmp(store.root), { recursive: true });
  store.sweepTemporaries();
  const tmp = mkdtempSync(join(paths.tmp(store.root), `load-${process.pid}-`));
  try {
    await extractArchive(input, tmp);
    mark('load-extracted');
    if (existsSync(join(tmp, 'manifest.json'))) return await loadDockerArchive(store, tmp);
    if (existsSync(join(tmp, 'index.json')) && existsSync(join(tmp, 'oci-layout'))) return await loadOciLayout(store, tmp);
    throw new SkiffError('invalid archive: neither a docker-archive (manifest.json) nor an OCI layout (index.json)');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function extractArchive(input: Readable, dest: string): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    const rel = posix.normalize(h.name.replace(/^\/+/, ''));
    if (rel === '..' || rel.startsWith('../')) return next(new SkiffError(`invalid archive: entry "${h.name}" escapes the archive`));
    const path = join(dest, rel);
    if (h.type === 'directory') {
      mkdirSync(path, { recursive: true });
      stream.resume();
      return next();
    }
    mkdirSync(dirname(path), { recursive: true });
    if (h.type === 'symlink') {
      // docker save links repeated layers; only links that stay inside are kept.
      symlinkSync(h.linkname ?? '', path);
      stream.resume();
      return next();
    }
    if (h.type !== 'file' && h.type !== 'contiguous-file') {
      stream.resume();
      return next();
    }
    pipeline(stream, createWriteStream(path)).then(() => next(), (e: Error) => { writeError ??= e; next(e); });
  });
  let writeError: Error | undefined;
  try {
    await pipeline(await decompressed(input), extract);
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    // A failed write shows up as "Premature close" of the tar stream: report the write's own cause.
    if (writeError) throw diskFailure(writeError, 'extracting the archive');
    throw new SkiffError(`invalid archive: ${(e as Error).message}`);
  }
}

/** Opens a file from the extracted archive, refusing symlinks that lead outside it. */
function archivePath(root: string, name: string): string {
  const rel = posix.normalize(name);
  if (rel.startsWith('../') || rel.startsWith('/')) throw new SkiffError(`invalid archive: "${name}" points outside the archive`);
  let real: string;
  try {
    real = realpathSync(join(root, rel));
  } catch {
    throw new SkiffError(`invalid archive: "${name}" is listed but missing`);
  }
  if (!real.startsWith(realpathSync(root) + '/')) throw new SkiffError(`invalid archive: "${name}" points outside the archive`);
  return real;
}

function readJsonFrom<T>(root: string, name: string): T {
  try {
    return JSON.parse(readFileSync(archivePath(root, name), 'utf8')) as T;
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    throw new SkiffError(`invalid archive: ${name} is not valid JSON`);
  }
}

/** Copies a file of the archive into the blob store, verifying it when its digest is known. */
async function importBlob(store: ImageStore, path: string, expected?: string): Promise<{ digest: string; size: number }> {
  try {
    return await store.putBlob(createReadStream(path), expected);
  } catch (e) {
    if (e instanceof SkiffError) throw new SkiffError(`invalid archive: ${e.message}`);
    throw diskFailure(e as Error, 'storing a blob');
  }
}

function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    readSync(fd, b, 0, 2, 0);
    return isGzip(b);
  } finally {
    closeSync(fd);
  }
}

interface DockerManifestEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

async function loadDockerArchive(store: ImageStore, root: string): Promise<LoadedImage[]> {
  const manifest = readJsonFrom<DockerManifestEntry[]>(root, 'manifest.json');
  if (!Array.isArray(manifest) || manifest.length === 0) throw new SkiffError('invalid archive: manifest.json lists no images');
  const loaded: LoadedImage[] = [];
  for (const [n, entry] of manifest.entries()) {
    const isStrings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
    if (typeof entry?.Config !== 'string') throw new SkiffError(`invalid archive: manifest.json entry ${n} has no Config (the image config file name)`);
    if (!isStrings(entry.Layers)) throw new SkiffError(`invalid archive: manifest.json entry ${n} has no Layers list`);
    if (entry.RepoTags != null && !isStrings(entry.RepoTags)) throw new SkiffError(`invalid archive: manifest.json entry ${n}: RepoTags is not a list of names`);
    const configBytes = readFileSync(archivePath(root, entry.Config));
    const configDigest = sha256(configBytes);
    const named = posix.basename(entry.Config).match(/^(?:sha256:)?([0-9a-f]{64})(?:\.json)?$/);
    if (named && `sha256:${named[1]}` !== configDigest) throw new SkiffError(`invalid archive: config ${entry.Config} does not match its digest`);
    const config = parseConfig(configBytes);
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw new SkiffError(`invalid archive: ${entry.Layers.length} layers listed, config expects ${config.rootfs.diff_ids.length}`);
    }
    const layers: Descriptor[] = [];
    for (const [i, layer] of entry.Layers.entries()) {
      const path = archivePath(root, layer);
      const gz = isGzipFile(path);
      // An uncompressed layer's digest is its diff_id: verify it on the way in.
      const blob = await importBlob(store, path, gz ? undefined : config.rootfs.diff_ids[i]);
      mark('load-blob-stored');
      await store.unpackBlob(config.rootfs.diff_ids[i], blob.digest);
      mark('load-layer-unpacked');
      layers.push({ mediaType: gz ? MEDIA.ociLayerGzip : MEDIA.ociLayer, digest: blob.digest, size: blob.size });
    }
    store.putBlobBytes(configBytes);
    const manifestBytes = makeManifest({ mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length }, layers);
    const tags = (entry.RepoTags ?? []).map(normalizeReference);
    loaded.push({ id: store.addImage(manifestBytes, tags), tags });
  }
  return loaded;
}

interface OciIndex { manifests: Descriptor[] }

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);

async function loadOciLayout(store: ImageStore, root: string): Promise<LoadedImage[]> {
  const index = readJsonFrom<OciIndex>(root, 'index.json');
  const blobFile = (d: Descriptor) => archivePath(root, `blobs/sha256/${hexOf(d.digest)}`);
  const loaded: LoadedImage[] = [];
  for (const desc of index.manifests ?? []) {
    await importBlob(store, blobFile(desc), desc.digest);
    let manifestDesc = desc;
    let raw = store.readBlob(desc.digest);
    let parsed = JSON.parse(raw.toString('utf8')) as ImageManifest & { manifests?: Descriptor[] };
    if (INDEX_TYPES.has(desc.mediaType ?? '') || parsed.manifests) {
      const pick = (parsed.manifests ?? []).find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
      if (!pick) throw new SkiffError('invalid archive: the image index has no linux/amd64 manifest');
      manifestDesc = pick;
      await importBlob(store, blobFile(pick), pick.digest);
      raw = store.readBlob(pick.digest);
      parsed = JSON.parse(raw.toString('utf8')) as ImageManifest;
    }
    const manifest = parseManifest(raw);
    await importBlob(store, blobFile(manifest.config), manifest.config.digest);
    const config = parseConfig(store.readBlob(manifest.config.digest));
    if (config.rootfs.diff_ids.length !== manifest.layers.length) throw new SkiffError('invalid archive: manifest and config disagree on the layer count');
    for (const [i, layer] of manifest.layers.entries()) {
      await importBlob(store, blobFile(layer), layer.digest);
      await store.unpackBlob(config.rootfs.diff_ids[i], layer.digest);
    }
    const tags = ociTags(desc.annotations ?? manifestDesc.annotations ?? {});
    loaded.push({ id: store.addImage(raw, tags), tags });
  }
  if (loaded.length === 0) throw new SkiffError('invalid archive: index.json lists no manifests');
  return loaded;
}

/** An OCI ref.name may be a full reference or a bare tag; a bare tag names no repository. */
function ociTags(annotations: Record<string, string>): string[] {
  const name = annotations['io.containerd.image.name'] ?? annotations['org.opencontainers.image.ref.name'];
  return name && /[/:]/.test(name) ? [normalizeReference(name)] : [];
}
