// /networks and /plugins: the read-only part skiff has. Its three networks
// (bridge, host, none) are listed and inspected; there are no plugins.
import { inspectNetwork, NETWORKS } from '../network/manage.js';
import { ApiError, sendJson, type Ctx, type Router } from './router.js';

function inspect(c: Ctx): void {
  try {
    sendJson(c.res, 200, inspectNetwork(c.params.id));
  } catch {
    throw new ApiError(404, `network ${c.params.id} not found`);
  }
}

export function networkRoutes(r: Router): void {
  r.on('GET', '/networks', (c) => sendJson(c.res, 200, NETWORKS.map((n) => inspectNetwork(n.name))))
    .on('GET', '/networks/{id}', inspect)
    // No plugins: `docker inspect NAME` asks here last, and a 404 makes it say "No such object".
    .on('GET', '/plugins', (c) => sendJson(c.res, 200, []))
    .on('GET', '/plugins/{name*}/json', (c) => { throw new ApiError(404, `plugin "${c.params.name}" not found`); });
}
