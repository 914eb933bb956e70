// The local image store.
//
//   $SKIFF_ROOT/image/configs/<hex>.json   image config; <hex> = sha256 of its bytes = image ID
//   $SKIFF_ROOT/image/layers/<hex>/        one unpacked layer, named by its diff_id
//   $SKIFF_ROOT/image/layers/<hex>.json    {size} of that layer
//   $SKIFF_ROOT/image/repositories.json    {"busybox:latest": "sha256:<id>"}
//
// Layers are unpacked once and shared by every image that lists them. A layer
// directory only appears by rename() after it was fully unpacked and verified,
// so a killed unpack never leaves a half layer visible.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError } from '../util/errors.js';
import { readJson, readJsonOr, writeJsonAtomic } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { paths, skiffRoot } from '../util/paths.js';
import { normalizeReference } from './reference.js';
import { unpackLayer } from './unpack.js';

/** The parts of an OCI image config skiff reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
    Hostname?: string;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string }>;
}

export interface Image {
  id: string; // sha256:<hex>
  config: ImageConfig;
  repoTags: string[];
}

const hexOf = (digest: string) => digest.replace(/^sha256:/, '');

export class ImageStore {
  readonly dir: string;
  constructor(readonly root = skiffRoot()) {
    this.dir = paths.images(root);
  }

  private get configsDir() { return join(this.dir, 'configs'); }
  get layersDir() { return paths.layers(this.root); }
  private get reposFile() { return join(this.dir, 'repositories.json'); }

  repositories(): Record<string, string> {
    return readJsonOr<Record<string, string>>(this.reposFile, {});
  }

  layerPath(diffId: string): string {
    return join(this.layersDir, hexOf(diffId));
  }

  hasLayer(diffId: string): boolean {
    return existsSync(this.layerPath(diffId));
  }

  layerSize(diffId: string): number {
    return readJsonOr<{ size: number }>(`${this.layerPath(diffId)}.json`, { size: 0 }).size;
  }

  /** Unpacks a layer stream unless the store has it; verifies the diff_id. */
  async addLayer(expectedDiffId: string, open: () => Readable): Promise<void> {
    if (this.hasLayer(expectedDiffId)) return;
    mkdirSync(this.layersDir, { recursive: true });
    const tmp = join(this.layersDir, `.tmp-${hexOf(expectedDiffId).slice(0, 12)}-${process.pid}-${Date.now()}`);
    mkdirSync(tmp, { mode: 0o755 });
    try {
      const { diffId, size } = await unpackLayer(open(), tmp);
      if (diffId !== expectedDiffId) {
        throw new SkiffError(`layer digest mismatch: expected ${expectedDiffId}, got ${diffId}`);
      }
      writeFileSync(`${tmp}.json`, JSON.stringify({ size }));
      renameSync(`${tmp}.json`, `${this.layerPath(diffId)}.json`);
      try {
        renameSync(tmp, this.layerPath(diffId));
      } catch (e) {
        // Another pull or load finished the same layer first: keep theirs.
        if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Stores a config (after its layers) and points the tags at it. Returns the image ID. */
  addImage(configBytes: Buffer, tags: string[]): string {
    const hex = createHash('sha256').update(configBytes).digest('hex');
    const config = parseConfig(configBytes);
    for (const d of config.rootfs.diff_ids) {
      if (!this.hasLayer(d)) throw new SkiffError(`image config lists layer ${d}, which is not in the store`);
    }
    mkdirSync(this.configsDir, { recursive: true });
    const file = join(this.configsDir, `${hex}.json`);
    if (!existsSync(file)) {
      writeFileSync(`${file}.tmp`, configBytes);
      renameSync(`${file}.tmp`, file);
    }
    const id = `sha256:${hex}`;
    if (tags.length) this.tag(id, tags);
    return id;
  }

  tag(id: string, tags: string[]): void {
    withLock('images', () => {
      const repos = this.repositories();
      for (const t of tags) repos[normalizeReference(t)] = id;
      mkdirSync(this.dir, { recursive: true });
      writeJsonAtomic(this.reposFile, repos);
    });
  }

  ids(): string[] {
    try {
      return readdirSync(this.configsDir).filter((f) => /^[0-9a-f]{64}\.json$/.test(f)).map((f) => `sha256:${f.slice(0, 64)}`);
    } catch {
      return [];
    }
  }

  get(id: string): Image {
    const config = parseConfig(readFileSync(join(this.configsDir, `${hexOf(id)}.json`)));
    const repoTags = Object.entries(this.repositories()).filter(([, v]) => v === id).map(([k]) => k).sort();
    return { id, config, repoTags };
  }

  list(): Image[] {
    return this.ids().map((id) => this.get(id));
  }

  /** Finds an image by name[:tag], full ID, or unique ID prefix. Throws a "No such image" error. */
  resolve(ref: string): Image {
    const found = this.lookup(ref);
    if (!found) throw new SkiffError(`Unable to find image '${ref}' locally; load it with 'skiff load -i FILE'`);
    return found;
  }

  lookup(ref: string): Image | undefined {
    const repos = this.repositories();
    let name: string | undefined;
    try {
      name = normalizeReference(ref);
    } catch {
      name = undefined;
    }
    if (name && repos[name]) return this.get(repos[name]);
    const prefix = hexOf(ref);
    if (/^[0-9a-f]{4,64}$/.test(prefix)) {
      const hits = this.ids().filter((id) => hexOf(id).startsWith(prefix));
      if (hits.length > 1) throw new SkiffError(`image ID prefix '${ref}' is ambiguous`);
      if (hits.length === 1) return this.get(hits[0]);
    }
    return undefined;
  }

  size(image: Image): number {
    return image.config.rootfs.diff_ids.reduce((n, d) => n + this.layerSize(d), 0);
  }

  created(image: Image): Date {
    const c = image.config.created ? new Date(image.config.created) : undefined;
    if (c && !Number.isNaN(c.getTime())) return c;
    return statSync(join(this.configsDir, `${hexOf(image.id)}.json`)).mtime;
  }
}

export function parseConfig(bytes: Buffer): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw new SkiffError('image config is not valid JSON');
  }
  if (!config?.rootfs || !Array.isArray(config.rootfs.diff_ids)) throw new SkiffError('image config has no rootfs.diff_ids');
  return config;
}

/** Reads a whole image's config; convenience for callers that only hold an ID. */
export function readImageConfig(store: ImageStore, id: string): ImageConfig {
  return readJson<ImageConfig>(join(store.dir, 'configs', `${hexOf(id)}.json`));
}
