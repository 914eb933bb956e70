// What `skiff images` and `skiff history` list: which images (--all,
// [REPOSITORY[:TAG]], --filter) and the rows they show (docker/cli's
// ImageContext and HistoryContext fields).
import { splitRepoTag } from '../image/reference.js';
import type { Image, ImageStore } from '../image/store.js';
import { SkiffError } from '../util/errors.js';
import { boolFilter, globMatch, matchLabels, type Filters } from './filters.js';
import { ago, goTime, humanSize } from './humanize.js';
import type { ListingSpec, Row } from './listing.js';
import { ellipsis } from './container-list.js';

export const IMAGES_FILTERS = ['dangling', 'reference', 'label', 'before', 'since'] as const;

export function imagesListing(digests: boolean): ListingSpec {
  return {
    table: `{{.Repository}}\t{{.Tag}}\t${digests ? '{{.Digest}}\t' : ''}{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`,
    headers: {
      ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
      Size: 'SIZE', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS',
    },
  };
}

export const HISTORY_LISTING: ListingSpec = {
  table: '{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
  headers: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' },
};

export interface ImagesSelection {
  all?: boolean;
  /** The positional REPOSITORY[:TAG]. */
  repository?: string;
  filters?: Filters;
  noTrunc?: boolean;
}

/** An image `images` shows, with the names it shows it by (none: one <none> row). */
export interface SelectedImage { img: Image; created: Date; names: Array<{ repository: string; tag: string }> }

/** The images `images` lists, newest first, with the names that passed the filters. */
export function selectImages(store: ImageStore, sel: ImagesSelection): SelectedImage[] {
  const f = sel.filters ?? new Map<string, string[]>();
  const dangling = f.has('dangling') ? boolFilter('dangling', f.get('dangling')!) : undefined;
  const createdOf = (ref: string): number => {
    const img = store.lookup(ref);
    if (!img) throw new SkiffError(`No such image: ${ref}`, 1);
    return store.created(img).getTime();
  };
  // Several before (since) values: the earliest (latest) wins, as in the daemon.
  const before = f.has('before') ? Math.min(...f.get('before')!.map(createdOf)) : undefined;
  const since = f.has('since') ? Math.max(...f.get('since')!.map(createdOf)) : undefined;
  const references = f.get('reference');

  const intermediate = sel.all ? new Set<string>() : store.buildCacheIds();
  const images = store.list()
    .filter((img) => img.repoTags.length > 0 || !intermediate.has(img.id))
    .sort((x, y) => store.created(y).getTime() - store.created(x).getTime());
  const out: SelectedImage[] = [];
  for (const img of images) {
    const created = store.created(img);
    if (dangling !== undefined && dangling !== (img.repoTags.length === 0)) continue;
    if (before !== undefined && !(created.getTime() < before)) continue;
    if (since !== undefined && !(created.getTime() > since)) continue;
    if (!matchLabels(f.get('label'), img.config.config?.Labels)) continue;
    let names = img.repoTags;
    if (references) {
      names = names.filter((n) => references.some((p) => globMatch(p, n) || globMatch(p, splitRepoTag(n).repository)));
      if (!names.length) continue; // an untagged image has no reference to match
    }
    const pairs = names.length ? names.map(splitRepoTag) : [{ repository: '<none>', tag: '<none>' }];
    const shown = pairs.filter((n) => !sel.repository || n.repository === sel.repository || `${n.repository}:${n.tag}` === sel.repository);
    if (shown.length) out.push({ img, created, names: shown });
  }
  return out;
}

/** One row per name (repository:tag) of each image, newest image first; an untagged image is one <none> row. */
export function imageRows(store: ImageStore, sel: ImagesSelection): Row[] {
  return selectImages(store, sel).flatMap(({ img, created, names }) =>
    names.map((n) => imageRow(store, img, n.repository, n.tag, created, sel.noTrunc)));
}

function imageRow(store: ImageStore, img: Image, repository: string, tag: string, created: Date, noTrunc?: boolean): Row {
  const size = humanSize(store.size(img));
  return {
    ID: noTrunc ? img.id : img.id.slice(7, 19),
    Repository: repository,
    Tag: tag,
    Digest: img.repoDigests.find((d) => d.startsWith(`${repository}@`))?.split('@')[1] ?? '<none>',
    CreatedSince: ago(created),
    CreatedAt: goTime(created),
    Size: size,
    VirtualSize: size,
    SharedSize: 'N/A',
    UniqueSize: 'N/A',
    Containers: 'N/A',
  };
}

export interface HistoryOptions { noTrunc?: boolean; human?: boolean }

type HistoryEntry = NonNullable<Image['config']['history']>[number];

/** The image's history, newest first, with the size of the layer each non-empty entry owns (`history`, GET /images/{name}/history). */
export function imageHistory(store: ImageStore, img: Image): Array<{ h: HistoryEntry; size: number }> {
  const diffIds = [...img.config.rootfs.diff_ids];
  const history = img.config.history?.length ? img.config.history : diffIds.map(() => ({}) as HistoryEntry);
  let layer = 0;
  return history.map((h) => ({ h, size: h.empty_layer ? 0 : store.layerSize(diffIds[layer++] ?? '') })).reverse();
}

/** The image's history, newest first; each non-empty entry owns the next layer, in order. */
export function historyRows(store: ImageStore, img: Image, o: HistoryOptions = {}): Row[] {
  const entries = imageHistory(store, img);
  const human = o.human ?? true;
  return entries.map(({ h, size }, i) => {
    const createdBy = h.created_by ?? '';
    return {
      ID: i > 0 ? '<missing>' : o.noTrunc ? img.id : img.id.slice(7, 19),
      CreatedSince: h.created ? (human ? ago(h.created) : h.created) : '',
      CreatedAt: h.created ?? '',
      CreatedBy: o.noTrunc ? createdBy : ellipsis(createdBy.replace(/\s+/g, ' '), 45),
      Size: human ? humanSize(size) : String(size),
      Comment: h.comment ?? '',
    };
  });
}
