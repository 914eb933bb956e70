// `network ls` rows and filters, shared by the CLI and GET /networks: the
// three predefined networks (manage.ts) and the user-defined ones (user.ts).
import { inspectNetwork, NETWORKS } from '../network/manage.js';
import { inspectUserNetwork, listNetworks } from '../network/user.js';
import { type Filters, invalidFilter, matchAny, matchLabels } from './filters.js';
import type { ListingSpec, Row } from './listing.js';

export const NETWORK_FILTERS = ['name', 'id', 'label', 'driver', 'type', 'scope', 'dangling'] as const;

export const NETWORK_LISTING: ListingSpec = {
  table: '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
  headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' },
};

type View = Record<string, unknown> & { Name: string; Id: string; Driver: string; Labels: Record<string, string>; Containers: Record<string, unknown> };

/** Docker's inspect objects of every network, predefined ones first, that the filters select. */
export function selectNetworks(filters: Filters): View[] {
  const all = [...NETWORKS.map((n) => inspectNetwork(n.name)), ...listNetworks().map(inspectUserNetwork)] as View[];
  for (const v of filters.get('type') ?? []) if (v !== 'custom' && v !== 'builtin') throw invalidFilter('type', v);
  const prefixOf = (values: string[] | undefined, id: string) => !values?.length || values.some((v) => id.startsWith(v));
  return all.filter((n) => {
    const builtin = NETWORKS.some((p) => p.name === n.Name);
    // Docker's name filter matches a part of the name (compose asks with the full name and compares itself).
    if (filters.has('name') && !filters.get('name')!.some((v) => n.Name.includes(v) || matchAny([v], n.Name))) return false;
    if (!prefixOf(filters.get('id'), n.Id)) return false;
    if (!matchLabels(filters.get('label'), n.Labels)) return false;
    if (!matchAny(filters.get('driver'), n.Driver)) return false;
    if (filters.has('scope') && !filters.get('scope')!.includes('local')) return false;
    if (filters.has('type') && !filters.get('type')!.includes(builtin ? 'builtin' : 'custom')) return false;
    if (filters.has('dangling')) {
      const want = /^(1|true)$/i.test(filters.get('dangling')![0]);
      if (builtin || (Object.keys(n.Containers).length === 0) !== want) return false;
    }
    return true;
  });
}

export function networkRow(n: View, full: boolean): Row {
  return {
    ID: full ? n.Id : n.Id.slice(0, 12), Name: n.Name, Driver: n.Driver, Scope: 'local', IPv6: 'false', Internal: String(!!n.Internal),
    Labels: Object.entries(n.Labels ?? {}).map(([k, x]) => `${k}=${x}`).join(','), CreatedAt: String(n.Created),
    Label: (k: string) => n.Labels?.[k] ?? '',
  };
}
