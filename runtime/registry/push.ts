// `skiff push`: uploads a stored image to a registry.
//
// Every blob (the layers, then the config) goes up like this:
//   HEAD /v2/REPO/blobs/DIGEST                     200: "Layer already exists"
//   POST /v2/REPO/blobs/uploads/?mount=D&from=R    when the blob was pulled from
//                                                  (or pushed to) repository R of the
//                                                  same registry. 201: "Mounted from R";
//                                                  202: the registry opened a normal
//                                                  upload instead, which we use.
//   POST /v2/REPO/blobs/uploads/                   202 + Location: an upload session
//   PUT  LOCATION?digest=D   (whole blob)          blobs up to the chunk size
//   PATCH LOCATION (Content-Range) ... then PUT    bigger blobs, in chunks
// and finally the stored manifest bytes, unchanged, so the digest stays the same:
//   PUT /v2/REPO/manifests/TAG   Content-Type: the manifest's media type
//
// The chunk size is 8 MiB, or SKIFF_PUSH_CHUNK_SIZE bytes.
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { normalizeReference } from '../image/reference.js';
import { type ImageStore, MEDIA } from '../image/store.js';
import { SkiffError } from '../util/errors.js';
import { mark } from '../util/trace.js';
import { getCredentials } from './auth.js';
import { type ClientOptions, isNetworkError, RegistryClient, RegistryError } from './client.js';
import { type ProgressSink, shortId } from './progress.js';
import { blobSources, recordBlobSources } from './pull.js';
import { resolveReference } from './reference.js';

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

export interface PushOptions {
  onProgress?: ProgressSink;
  /** Blobs larger than this go up in PATCH chunks of this size (default 8 MiB, or SKIFF_PUSH_CHUNK_SIZE). */
  chunkSize?: number;
  /** Blobs uploaded at once (default 3). */
  concurrency?: number;
  client?: ClientOptions;
}

export interface PushResult {
  /** The tag pushed. */
  tag: string;
  /** "registry/repository" pushed to. */
  repository: string;
  digest: string;
  size: number;
}

interface BlobJob {
  digest: string;
  size: number;
  /** Progress line id (layers only; the config is pushed silently, as Docker does). */
  id?: string;
}

export function chunkSize(): number {
  const n = Number(process.env.SKIFF_PUSH_CHUNK_SIZE);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_CHUNK_SIZE;
}

export async function pushImage(store: ImageStore, localRef: string, opts: PushOptions = {}): Promise<PushResult> {
  const r = resolveReference(localRef);
  if (r.digest) throw new SkiffError(`cannot push a digest reference: ${localRef}; tag the image first (skiff tag)`);
  const emit: ProgressSink = opts.onProgress ?? (() => {});
  const local = `${r.localRepository}:${r.tag}`;
  // By name only (as Docker): an image ID is not something to push.
  const repos = store.repositories();
  const id = repos[normalizeReference(localRef)] ?? repos[local];
  const image = id && store.ids().includes(id) ? store.get(id) : undefined;
  if (!image) throw new SkiffError(`An image does not exist locally with the tag: ${r.localRepository}${r.defaultedTag ? '' : `:${r.tag}`}`);
  const { bytes, digest, manifest } = store.manifest(image.id);
  const diffIds = image.config.rootfs.diff_ids;
  const repo = `${r.registry}/${r.repository}`;
  const chunk = opts.chunkSize ?? chunkSize();

  if (r.defaultedTag) emit({ kind: 'message', text: 'Using default tag: latest' });
  emit({ kind: 'message', text: `The push refers to repository [${r.fullRepository}]` });
  const client = new RegistryClient(r.registry, { ...opts.client, credentials: opts.client?.credentials ?? getCredentials(r.registry, store.root) });
  try {
    // Docker lists the top layer first and names layers by diff_id.
    const jobs: BlobJob[] = [];
    const seen = new Set<string>();
    manifest.layers.forEach((l, i) => {
      if (seen.has(l.digest)) return;
      seen.add(l.digest);
      jobs.push({ digest: l.digest, size: l.size, id: shortId(diffIds[i] ?? l.digest) });
    });
    jobs.reverse();
    for (const j of jobs) emit({ kind: 'layer', id: j.id!, status: 'Preparing' });
    if (!seen.has(manifest.config.digest)) jobs.push({ digest: manifest.config.digest, size: manifest.config.size });
    for (const j of jobs) {
      if (!store.hasBlob(j.digest)) throw new SkiffError(`blob ${j.digest} of ${local} is missing from the store`);
    }

    const sources = blobSources(store);
    // A few workers take blobs off the list; after a failure they take no more.
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      for (let j = jobs[next++]; j && failure === undefined; j = jobs[next++]) {
        try {
          await pushBlob(store, client, r.repository, r.registry, j, sources[j.digest] ?? [], chunk, emit);
          mark('push-blob-sent');
        } catch (e) {
          failure ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 3) }, worker));
    if (failure !== undefined) throw failure;

    const mediaType = manifest.mediaType ?? inferMediaType(manifest.layers.map((l) => l.mediaType));
    const remote = await client.putManifest(r.repository, r.tag!, bytes, mediaType);
    if (remote && remote !== digest) throw new SkiffError(`registry ${r.registry} stored the manifest as ${remote}, expected ${digest}`);
    emit({ kind: 'message', text: `${r.tag}: digest: ${digest} size: ${bytes.length}` });
    // Like Docker: the image now also answers to repo@digest.
    store.tag(image.id, [`${r.localRepository}@${digest}`]);
    recordBlobSources(store, jobs.map((j) => j.digest), repo);
    return { tag: r.tag!, repository: repo, digest, size: bytes.length };
  } finally {
    client.close();
  }
}

/** A stored manifest without a mediaType field: Docker's if its layers are Docker's, else OCI. */
function inferMediaType(layerTypes: string[]): string {
  return layerTypes.some((t) => t?.startsWith('application/vnd.docker.')) ? MEDIA.dockerManifest : MEDIA.ociManifest;
}


async function pushBlob(
  store: ImageStore, client: RegistryClient, repository: string, registry: string, job: BlobJob, sources: string[], chunk: number, emit: ProgressSink,
): Promise<void> {
  const say = (status: string, current?: number, total?: number) => job.id && emit({ kind: 'layer', id: job.id, status, current, total });
  if (await client.blobExists(repository, job.digest)) {
    say('Layer already exists');
    return;
  }
  const path = store.blobPath(job.digest);
  const size = store.blobSize(job.digest);
  if (size !== job.size) throw new SkiffError(`blob ${job.digest} is ${size} bytes in the store, the manifest says ${job.size}`);

  // Cross-repo mount from a repository of the same registry that has the blob.
  let location: string | undefined;
  const prefix = `${registry}/`;
  const from = sources.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length)).find((s) => s !== repository);
  if (from) {
    try {
      const m = await client.mountBlob(repository, job.digest, from);
      if (m === true) {
        say(`Mounted from ${from}`);
        return;
      }
      location = m;
    } catch (e) {
      if (!(e instanceof RegistryError) || e.status === 401) throw e;
      // The registry refused the mount (e.g. the source is gone): upload normally.
    }
  }

  // The upload itself: a session that breaks is started over (a PATCH cannot be
  // safely repeated), a few times, with backoff.
  for (let attempt = 1; ; attempt++) {
    try {
      location ??= await client.startUpload(repository);
      let sent = 0;
      const open = (start: number, end: number) => {
        const meter = new Transform({
          transform(c: Buffer, _e, cb) {
            sent += c.length;
            say('Pushing', sent, size);
            cb(null, c);
          },
        });
        if (end <= start) return Readable.from([]);
        return createReadStream(path, { start, end: end - 1 }).pipe(meter);
      };
      say('Pushing', 0, size);
      if (size > chunk) await client.putBlobChunked(repository, location, job.digest, size, chunk, open);
      else await client.putBlob(repository, location, job.digest, { length: size, open: () => open(0, size) });
      say('Pushed');
      return;
    } catch (e) {
      location = undefined;
      const transient = isNetworkError(e) || (e instanceof RegistryError && (e.status >= 500 || e.status === 429));
      if (!transient || attempt >= 4) throw e;
      say('Retrying');
      await new Promise((res) => setTimeout(res, 250 * 2 ** (attempt - 1)));
    }
  }
}

