// `skiff save`: writes images as a docker-archive (what `docker save` makes
// and `docker load`/`skopeo` read): manifest.json, one config per image, and
// each layer once as an uncompressed <diff_id>/layer.tar.
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { decompressed } from '../util/stream.js';
import { hexOf, type ImageStore } from './store.js';
import { normalizeReference, splitRepoTag } from './reference.js';

export interface SaveTarget { id: string; names: string[] }

/** What `save IMAGE...` writes: each image once, with the names it was asked for by. */
export function saveTargets(store: ImageStore, refs: string[]): SaveTarget[] {
  const targets: SaveTarget[] = [];
  for (const ref of refs) {
    const img = store.resolve(ref);
    // Saving by name records that name; saving by ID records none (as Docker does).
    let name: string | undefined;
    try {
      name = normalizeReference(ref);
    } catch {
      name = undefined;
    }
    const names = name && img.repoTags.includes(name) ? [name] : [];
    const existing = targets.find((t) => t.id === img.id);
    if (existing) existing.names.push(...names);
    else targets.push({ id: img.id, names });
  }
  return targets;
}

/** Streams the archive into `out`. Layers are gunzipped on the fly when stored compressed. */
export async function writeDockerArchive(store: ImageStore, targets: SaveTarget[], out: Writable): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  const addFile = (name: string, body: Buffer) => new Promise<void>((resolve, reject) => {
    pack.entry({ name, size: body.length, mode: 0o644, mtime: new Date(0) }, body, (e) => (e ? reject(e) : resolve()));
  });
  const written = new Set<string>();
  const manifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const t of targets) {
    const { manifest: m } = store.manifest(t.id);
    const config = store.readBlob(t.id);
    const diffIds: string[] = JSON.parse(config.toString('utf8')).rootfs.diff_ids;
    const configName = `${hexOf(t.id)}.json`;
    if (!written.has(configName)) {
      await addFile(configName, config);
      written.add(configName);
    }
    const layerNames: string[] = [];
    for (const [i, layer] of m.layers.entries()) {
      const name = `${hexOf(diffIds[i])}/layer.tar`;
      layerNames.push(name);
      if (written.has(name)) continue;
      written.add(name);
      await addLayer(pack, name, store, layer.digest, diffIds[i]);
    }
    manifest.push({ Config: configName, RepoTags: t.names, Layers: layerNames });
    for (const n of t.names) {
      const { repository, tag } = splitRepoTag(n);
      (repositories[repository] ??= {})[tag] = hexOf(diffIds.at(-1) ?? '');
    }
  }
  await addFile('manifest.json', Buffer.from(JSON.stringify(manifest)));
  await addFile('repositories', Buffer.from(JSON.stringify(repositories)));
  pack.finalize();
  await done;
}

/** tar headers need the size up front: an uncompressed blob has it; a gzip one is measured by its diff_id's layer. */
async function addLayer(pack: tar.Pack, name: string, store: ImageStore, blobDigest: string, diffId: string): Promise<void> {
  const source = await decompressed(createReadStream(store.blobPath(blobDigest)));
  let size = blobDigest === diffId ? store.blobSize(blobDigest) : -1;
  if (size < 0) {
    // Count the uncompressed bytes first (one extra read; layers are streamed, never held in memory).
    size = 0;
    for await (const chunk of await decompressed(createReadStream(store.blobPath(blobDigest)))) size += (chunk as Buffer).length;
  }
  const entry = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) });
  await pipeline(source, entry as unknown as PassThrough);
}

/** Writes to a temp file and renames, so a failed save leaves no half-written archive. */
export async function saveToFile(store: ImageStore, targets: SaveTarget[], file: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeDockerArchive(store, targets, createWriteStream(tmp));
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
