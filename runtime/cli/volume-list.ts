// `volume ls` rows and filters, shared by the CLI and GET /volumes.
import { danglingVolumes, listVolumes, type Volume } from '../volume/store.js';
import { boolFilter, type Filters, matchAny, matchLabels } from './filters.js';
import type { ListingSpec, Row } from './listing.js';

export const VOLUME_FILTERS = ['name', 'label', 'dangling', 'driver'] as const;

export const VOLUME_LISTING: ListingSpec = {
  table: '{{.Driver}}\t{{.Name}}',
  headers: { Driver: 'DRIVER', Name: 'VOLUME NAME', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS' },
  quietField: 'Name',
};

export function selectVolumes(filters: Filters): Volume[] {
  const dangling = filters.has('dangling') ? boolFilter('dangling', filters.get('dangling') ?? []) : undefined;
  const unused = dangling === undefined ? undefined : danglingVolumes();
  return listVolumes().filter((v) => matchAny(filters.get('name'), v.Name) && matchLabels(filters.get('label'), v.Labels)
    && matchAny(filters.get('driver'), v.Driver) && (unused === undefined || unused.has(v.Name) === dangling));
}

export function volumeRow(v: Volume): Row {
  return {
    Driver: v.Driver, Name: v.Name, Scope: v.Scope, Mountpoint: v.Mountpoint,
    Labels: Object.entries(v.Labels).map(([k, x]) => `${k}=${x}`).join(','),
    Label: (k: string) => v.Labels[k] ?? '',
  };
}
