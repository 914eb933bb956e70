// /networks and /plugins: the predefined networks (bridge, host, none) and
// user-defined bridge networks, with the same library as `skiff network`
// (runtime/network/user.ts, index.ts for connect/disconnect). There are no plugins.
import { parseFilters } from '../cli/filters.js';
import { NETWORK_FILTERS, selectNetworks } from '../cli/network-list.js';
import { inspectNetwork, pruneUnused } from '../network/manage.js';
import { connectNetwork, disconnectNetwork } from '../network/index.js';
import { createNetwork, removeNetwork } from '../network/user.js';
import { ApiError, filterFlags, noContent, readJson, sendJson, type Ctx, type Router } from './router.js';

function inspect(c: Ctx): void {
  try {
    sendJson(c.res, 200, inspectNetwork(c.params.id));
  } catch {
    throw new ApiError(404, `network ${c.params.id} not found`);
  }
}

interface CreateBody {
  Name?: string; Driver?: string; Internal?: boolean; Attachable?: boolean; EnableIPv6?: boolean; CheckDuplicate?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> | null } | null;
  Options?: Record<string, string> | null; Labels?: Record<string, string> | null;
}

async function create(c: Ctx): Promise<void> {
  const b = await readJson<CreateBody>(c.req, c.hijack);
  if (typeof b.Name !== 'string' || !b.Name) throw new ApiError(400, 'network name must not be empty');
  if (b.EnableIPv6) throw new ApiError(400, 'skiff networks are IPv4 only (EnableIPv6)');
  const cfg = b.IPAM?.Config ?? [];
  if (cfg.length > 1) throw new ApiError(400, 'skiff networks have one IPv4 subnet (IPAM.Config)');
  if (cfg[0]?.IPRange) throw new ApiError(400, 'IPAM IPRange is not supported');
  // A NetworkError carries Docker's status (router.ts, httpStatus).
  const n = createNetwork(b.Name!, {
    driver: b.Driver, subnet: cfg[0]?.Subnet, gateway: cfg[0]?.Gateway, internal: !!b.Internal, attachable: !!b.Attachable,
    labels: b.Labels ?? {}, options: b.Options ?? {},
  });
  sendJson(c.res, 201, { Id: n.Id, Warning: '' });
}

async function connect(c: Ctx): Promise<void> {
  const b = await readJson<{ Container?: string; EndpointConfig?: { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null }>(c.req, c.hijack);
  if (!b.Container) throw new ApiError(400, 'Container must be given');
  const ep = b.EndpointConfig;
  await connectNetwork(c.params.id, b.Container!, { aliases: ep?.Aliases ?? undefined, ip: ep?.IPAMConfig?.IPv4Address || undefined });
  sendJson(c.res, 200, {});
}

async function disconnect(c: Ctx): Promise<void> {
  const b = await readJson<{ Container?: string; Force?: boolean }>(c.req, c.hijack);
  if (!b.Container) throw new ApiError(400, 'Container must be given');
  disconnectNetwork(c.params.id, b.Container!, !!b.Force);
  sendJson(c.res, 200, {});
}

function prune(c: Ctx): void {
  const filters = parseFilters(filterFlags(c.query), ['label']);
  const wanted = new Set(selectNetworks(filters).map((n) => n.Id));
  const { removed, bridge } = pruneUnused(wanted, filters.size > 0);
  sendJson(c.res, 200, { NetworksDeleted: bridge?.removed ? ['bridge', ...removed] : removed });
}

export function networkRoutes(r: Router): void {
  r.on('GET', '/networks', (c) => sendJson(c.res, 200, selectNetworks(parseFilters(filterFlags(c.query), NETWORK_FILTERS))))
    .on('GET', '/networks/{id}', inspect)
    .on('POST', '/networks/create', create)
    .on('POST', '/networks/prune', prune)
    .on('DELETE', '/networks/{id}', (c) => {
      removeNetwork(c.params.id);
      noContent(c.res);
    })
    .on('POST', '/networks/{id}/connect', connect)
    .on('POST', '/networks/{id}/disconnect', disconnect)
    // No plugins: `docker inspect NAME` asks here last, and a 404 makes it say "No such object".
    .on('GET', '/plugins', (c) => sendJson(c.res, 200, []))
    .on('GET', '/plugins/{name*}/json', (c) => { throw new ApiError(404, `plugin "${c.params.name}" not found`); });
}
