// `skiff load`: imports a docker-archive tar (the `docker save` format) or an
// OCI image-layout tar (what `skopeo copy ... oci-archive:` writes).
//
// The outer archive is first extracted to a private temp dir (file names are
// checked; nothing outside it is written), then every blob is verified by
// digest before it reaches the store. A corrupt archive leaves nothing behind.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, createWriteStream } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { SkiffError } from '../util/errors.js';
import { paths } from '../util/paths.js';
import { decompressed } from '../util/stream.js';
import { type ImageStore, parseConfig } from './store.js';

export interface LoadedImage {
  id: string;
  tags: string[];
}

export async function loadArchive(store: ImageStore, input: Readable): Promise<LoadedImage[]> {
  mkdirSync(paths.tmp(store.root), { recursive: true });
  const tmp = mkdtempSync(join(paths.tmp(store.root), 'load-'));
  try {
    await extractArchive(input, tmp);
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
    pipeline(stream, createWriteStream(path)).then(() => next(), next);
  });
  try {
    await pipeline(await decompressed(input), extract);
  } catch (e) {
    if (e instanceof SkiffError) throw e;
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

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(`sha256:${h.digest('hex')}`)).on('error', reject);
  });
}

interface DockerManifestEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

async function loadDockerArchive(store: ImageStore, root: string): Promise<LoadedImage[]> {
  const manifest = readJsonFrom<DockerManifestEntry[]>(root, 'manifest.json');
  if (!Array.isArray(manifest) || manifest.length === 0) throw new SkiffError('invalid archive: manifest.json lists no images');
  const loaded: LoadedImage[] = [];
  for (const entry of manifest) {
    const configPath = archivePath(root, entry.Config);
    const configBytes = readFileSync(configPath);
    const configHex = createHash('sha256').update(configBytes).digest('hex');
    const named = posix.basename(entry.Config).match(/^(?:sha256:)?([0-9a-f]{64})(?:\.json)?$/);
    if (named && named[1] !== configHex) throw new SkiffError(`invalid archive: config ${entry.Config} does not match its digest`);
    const config = parseConfig(configBytes);
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw new SkiffError(`invalid archive: ${entry.Layers.length} layers listed, config expects ${config.rootfs.diff_ids.length}`);
    }
    for (const [i, layer] of entry.Layers.entries()) {
      const path = archivePath(root, layer);
      await store.addLayer(config.rootfs.diff_ids[i], () => createReadStream(path));
    }
    const tags = entry.RepoTags ?? [];
    loaded.push({ id: store.addImage(configBytes, tags), tags });
  }
  return loaded;
}

interface Descriptor { mediaType?: string; digest: string; size?: number; annotations?: Record<string, string>; platform?: { architecture?: string; os?: string } }
interface OciIndex { manifests: Descriptor[] }
interface OciManifest { mediaType?: string; config: Descriptor; layers: Descriptor[]; manifests?: Descriptor[] }

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

async function verifiedBlob(root: string, d: Descriptor): Promise<string> {
  if (!/^sha256:[0-9a-f]{64}$/.test(d.digest)) throw new SkiffError(`invalid archive: unsupported digest "${d.digest}"`);
  const path = archivePath(root, `blobs/sha256/${d.digest.slice(7)}`);
  const actual = await sha256File(path);
  if (actual !== d.digest) throw new SkiffError(`invalid archive: blob ${d.digest} does not match its digest (${actual})`);
  return path;
}

async function loadOciLayout(store: ImageStore, root: string): Promise<LoadedImage[]> {
  const index = readJsonFrom<OciIndex>(root, 'index.json');
  const loaded: LoadedImage[] = [];
  for (const desc of index.manifests ?? []) {
    let manifestDesc = desc;
    let manifest = JSON.parse(readFileSync(await verifiedBlob(root, desc), 'utf8')) as OciManifest;
    if (INDEX_TYPES.has(desc.mediaType ?? '') || manifest.manifests) {
      const pick = (manifest.manifests ?? []).find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
      if (!pick) throw new SkiffError('invalid archive: the image index has no linux/amd64 manifest');
      manifestDesc = pick;
      manifest = JSON.parse(readFileSync(await verifiedBlob(root, pick), 'utf8')) as OciManifest;
    }
    const configBytes = readFileSync(await verifiedBlob(root, manifest.config));
    const config = parseConfig(configBytes);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) throw new SkiffError('invalid archive: manifest and config disagree on the layer count');
    for (const [i, layer] of manifest.layers.entries()) {
      const path = await verifiedBlob(root, layer);
      await store.addLayer(config.rootfs.diff_ids[i], () => createReadStream(path));
    }
    const tags = ociTags(desc.annotations ?? manifestDesc.annotations ?? {});
    loaded.push({ id: store.addImage(configBytes, tags), tags });
  }
  if (loaded.length === 0) throw new SkiffError('invalid archive: index.json lists no manifests');
  return loaded;
}

/** An OCI ref.name may be a full reference or a bare tag; a bare tag names no repository. */
function ociTags(annotations: Record<string, string>): string[] {
  const name = annotations['io.containerd.image.name'] ?? annotations['org.opencontainers.image.ref.name'];
  return name && /[/:]/.test(name) ? [name] : [];
}
