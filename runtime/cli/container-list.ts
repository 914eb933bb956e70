// What `skiff ps` lists: which containers (-a, -n/--last, -l, --filter) and
// the row each one shows (docker/cli's ContainerContext fields).
import { ImageStore } from '../image/store.js';
import type { ContainerRecord } from '../container/model.js';
import { networkId } from '../network/manage.js';
import { namesOf, portsSummary } from '../network/index.js';
import { SkiffError } from '../util/errors.js';
import { dirSize } from './disk-usage.js';
import { invalidFilter, matchAny, matchLabels, portSet, type Filters } from './filters.js';
import { ago, goTime, humanDuration, humanSize } from './humanize.js';
import type { ListingSpec, Row } from './listing.js';
import { goQuote } from './template/index.js';

export const PS_FILTERS = ['id', 'name', 'label', 'exited', 'status', 'ancestor', 'before', 'since', 'network', 'publish', 'expose'] as const;
const STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export const PS_LISTING: ListingSpec = {
  table: '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
  headers: {
    ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
    State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Label: 'LABEL', Mounts: 'MOUNTS',
    Networks: 'NETWORKS', LocalVolumes: 'LOCAL VOLUMES',
  },
};

/** Docker's State.StateString(): a running container is "paused" or "restarting" when it is. */
export function stateOf(c: ContainerRecord): string {
  if (c.State.Running) return c.State.Paused ? 'paused' : c.State.Restarting ? 'restarting' : 'running';
  return c.State.Status;
}

export function statusOf(c: ContainerRecord, now = Date.now()): string {
  const s = c.State;
  if (s.Running) return `Up ${humanDuration(now - new Date(s.StartedAt).getTime())}${s.Paused ? ' (Paused)' : ''}`;
  if (s.Status === 'created') return 'Created';
  return `Exited (${s.ExitCode}) ${ago(s.FinishedAt, now)}`;
}

/** The daemon's Command: the path, then the args, an arg with a space in single quotes. */
export function commandLine(c: Pick<ContainerRecord, 'Path' | 'Args'>): string {
  return [c.Path, ...c.Args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

/** docker/cli's formatter.Ellipsis: at most `max` chars, the last one "…" when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

export function networksOf(c: ContainerRecord): string[] {
  const names = Object.keys(c.NetworkSettings?.Networks ?? {});
  if (names.length) return names.sort();
  const mode = c.HostConfig.NetworkMode;
  return !mode || mode.startsWith('container:') ? [] : [mode === 'default' ? 'bridge' : mode];
}

export interface PsRowOptions {
  noTrunc?: boolean;
  /** Every container: NAMES shows link names too ("db,web/db"), as in Docker. */
  all?: ContainerRecord[];
  /** Compute SIZE ("2B (virtual 4.5MB)"): the writable layer, and it plus the image. */
  size?: boolean;
  images?: ImageStore;
}

/**
 * Files skiff makes in the writable layer as mount targets (and /etc/mtab).
 * Docker keeps these in a separate init layer, so they are not counted in a
 * container's size there either.
 */
export const INIT_ENTRIES: ReadonlySet<string> = new Set(['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab']);

export function psRow(c: ContainerRecord, o: PsRowOptions = {}): Row {
  const command = commandLine(c);
  const labels = c.Config.Labels ?? {};
  const mounts = (c.Mounts as Array<{ Name?: string; Source?: string; Type?: string }>) ?? [];
  let size = '0B';
  if (o.size) {
    const rw = dirSize(c.GraphDriver.Data.UpperDir, INIT_ENTRIES);
    let image = 0;
    try {
      const images = o.images ?? new ImageStore();
      image = images.size(images.get(c.Image));
    } catch {
      // the image is gone: no virtual size
    }
    size = image + rw > 0 ? `${humanSize(rw)} (virtual ${humanSize(image + rw)})` : humanSize(rw);
  }
  return {
    ID: o.noTrunc ? c.Id : c.Id.slice(0, 12),
    Image: c.Config.Image,
    Command: goQuote(o.noTrunc ? command : ellipsis(command, 20)),
    CreatedAt: goTime(c.Created),
    RunningFor: ago(c.Created),
    Ports: portsSummary(c),
    State: stateOf(c),
    Status: statusOf(c),
    Size: size,
    Names: namesOf(c, o.all ?? []).join(','),
    Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(','),
    Label: (key: string) => labels[key] ?? '',
    Mounts: mounts.map((m) => m.Name || m.Source || '').filter(Boolean).join(','),
    Networks: networksOf(c).join(','),
    LocalVolumes: String(mounts.filter((m) => m.Type === 'volume').length),
  };
}

export interface PsSelection {
  all?: boolean;
  /** -n N (N > 0): the N newest, in any state; -l is -n 1. */
  last?: number;
  filters?: Filters;
}

/** The containers `ps` shows, newest first, as the daemon's list walks them. */
export function selectContainers(records: ContainerRecord[], sel: PsSelection, images = new ImageStore()): ContainerRecord[] {
  const f = sel.filters ?? new Map<string, string[]>();
  const last = sel.last && sel.last > 0 ? sel.last : 0;
  let all = Boolean(sel.all);
  for (const v of f.get('status') ?? []) {
    if (!STATES.includes(v)) throw invalidFilter('status', v);
    all = true; // a status filter looks at every container
  }
  const exited = (f.get('exited') ?? []).map((v) => {
    if (!/^[+-]?\d+$/.test(v)) throw new SkiffError(`strconv.Atoi: parsing "${v}": invalid syntax`, 1);
    return Number(v);
  });
  const findOne = (ref: string): ContainerRecord => {
    const hit = records.find((c) => c.Id === ref || c.Name === `/${ref}` || c.Name === ref)
      ?? records.filter((c) => /^[0-9a-f]+$/.test(ref) && c.Id.startsWith(ref)).at(0);
    if (!hit) throw new SkiffError(`No such container: ${ref}`, 1);
    return hit;
  };
  let before = f.get('before')?.map(findOne).at(-1);
  const since = f.get('since')?.map(findOne).at(-1);
  const ancestors = (f.get('ancestor') ?? []).flatMap((ref) => {
    try {
      const img = images.lookup(ref);
      return img ? [img] : [];
    } catch {
      return [];
    }
  });
  const imageLayers = (c: ContainerRecord): string[] | undefined => {
    try {
      return images.get(c.Image).config.rootfs.diff_ids;
    } catch {
      return undefined;
    }
  };
  const publish = (f.get('publish') ?? []).flatMap((v) => portSet(v, 'publish'));
  const expose = (f.get('expose') ?? []).flatMap((v) => portSet(v, 'expose'));

  const sorted = [...records].sort((x, y) => y.Created.localeCompare(x.Created));
  const out: ContainerRecord[] = [];
  for (const c of sorted) {
    if (before) { // skip everything newer than `before`, and it
      if (c.Id === before.Id) before = undefined;
      continue;
    }
    if (since && c.Id === since.Id) break; // only what is newer than `since`
    if (!c.State.Running && !all && !last) continue;
    if (!matchAny(f.get('name'), c.Name)) continue;
    if (!matchAny(f.get('id'), c.Id)) continue;
    if (!matchLabels(f.get('label'), c.Config.Labels)) continue;
    if (last && out.length === last) break;
    if (exited.length && !(exited.includes(c.State.ExitCode) && !c.State.Running && c.State.Status === 'exited')) continue;
    if (!matchAny(f.get('status'), stateOf(c))) continue;
    if (f.has('ancestor')) {
      const layers = imageLayers(c);
      const isDescendant = ancestors.some((a) => a.id === c.Image
        || (layers && a.config.rootfs.diff_ids.length > 0 && a.config.rootfs.diff_ids.every((d, i) => layers[i] === d)));
      if (!isDescendant) continue;
    }
    if (f.has('network')) {
      const nets = networksOf(c);
      if (!f.get('network')!.some((v) => nets.some((n) => n === v || networkId(n).startsWith(v)))) continue;
    }
    if (publish.length) {
      const bound = new Set(Object.keys(c.HostConfig.PortBindings ?? {}));
      if (c.State.Running) {
        for (const [k, v] of Object.entries(c.NetworkSettings?.Ports ?? {})) if (Array.isArray(v) && v.length) bound.add(k);
      }
      if (!publish.some((p) => bound.has(p))) continue;
    }
    if (expose.length && !expose.some((p) => Object.hasOwn(c.Config.ExposedPorts ?? {}, p))) continue;
    out.push(c);
  }
  return out;
}
