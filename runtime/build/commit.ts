// `skiff commit`: a new image from a container's changes. The image is the
// container's image plus one layer: the overlay upper dir as a tar, with
// whiteouts for deletions. A running container is frozen (cgroup freezer)
// while its upper dir is read, so the layer is a consistent snapshot.
import { findLive } from '../container/lifecycle.js';
import { withFrozen } from '../container/pause.js';
import { rootfsDirs } from '../container/rootfs.js';
import { mark } from '../util/trace.js';
import { normalizeReference } from '../image/reference.js';
import { type ImageConfig, type ImageStore, makeManifest, MEDIA } from '../image/store.js';
import { applyChange } from './changes.js';
import { diffLayer } from './diff.js';

export interface CommitOptions {
  reference?: string;
  message?: string;
  author?: string;
  changes?: string[];
  pause?: boolean;
}

export async function commitContainer(images: ImageStore, ref: string, opts: CommitOptions = {}): Promise<string> {
  const rec = findLive(ref);
  images.sweepTemporaries();
  const parent = images.get(rec.Image);
  const parentManifest = images.manifest(rec.Image).manifest;
  // Validate changes and the name before any work.
  const config = structuredClone(parent.config) as ImageConfig;
  config.config = config.config ?? {};
  for (const c of opts.changes ?? []) applyChange(config.config, c);
  const name = opts.reference ? normalizeReference(opts.reference) : undefined;

  const snapshot = async () => {
    mark('commit-frozen');
    const b = await images.putBlob(diffLayer(rootfsDirs(rec.Id).upper));
    mark('commit-layer-written');
    return b;
  };
  const blob = rec.State.Running && opts.pause !== false ? await withFrozen(rec, snapshot) : await snapshot();
  mark('commit-thawed');
  // The layer is stored uncompressed, so its digest is its diff_id.
  await images.unpackBlob(blob.digest, blob.digest);

  const created = new Date().toISOString();
  config.created = created;
  if (opts.author) config.author = opts.author;
  config.rootfs = { type: 'layers', diff_ids: [...parent.config.rootfs.diff_ids, blob.digest] };
  config.history = [...(parent.config.history ?? []), {
    created, created_by: [rec.Path, ...rec.Args].join(' '), ...(opts.author ? { author: opts.author } : {}), ...(opts.message ? { comment: opts.message } : {}),
  }];
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = images.putBlobBytes(configBytes);
  const manifest = makeManifest(
    { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
    [...parentManifest.layers, { mediaType: MEDIA.ociLayer, digest: blob.digest, size: blob.size }],
  );
  const id = images.addImage(manifest, name ? [name] : []);
  mark('commit-image-added');
  return id;
}
