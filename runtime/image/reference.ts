// Image references, Docker's grammar: [registry[:port]/]path[:tag][@sha256:digest].
// Names are kept in their familiar short form ("busybox:latest"); the tag
// defaults to "latest".
import { SkiffError } from '../util/errors.js';

export interface Reference {
  /** Registry host[:port], when the first component names one. */
  domain?: string;
  /** Repository path, e.g. "library/busybox" or "ouruser/sinatra". */
  path: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;

export function parseReference(ref: string): Reference {
  if (!ref) throw new SkiffError('invalid reference format: empty name');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new SkiffError(`invalid reference format: bad digest "${digest}" in "${ref}"`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new SkiffError(`invalid reference format: bad tag "${tag}" in "${ref}"`);
  }
  const parts = rest.split('/');
  let domain: string | undefined;
  // Docker's rule: the first component is a registry if it has a dot or a
  // port, or is "localhost".
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) {
    domain = parts.shift();
    if (!DOMAIN.test(domain!)) throw new SkiffError(`invalid reference format: bad registry "${domain}" in "${ref}"`);
  }
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      const why = p !== p.toLowerCase() ? 'repository name must be lowercase' : `bad name component "${p}"`;
      throw new SkiffError(`invalid reference format: ${why} in "${ref}"`);
    }
  }
  return { domain, path: parts.join('/'), tag, digest };
}

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The local, familiar form Docker shows: "busybox" -> "busybox:latest",
 * "docker.io/library/busybox" -> "busybox:latest"; other registries and
 * digests are kept as given.
 */
export function normalizeReference(ref: string): string {
  const r = parseReference(ref);
  let name = r.domain ? `${r.domain}/${r.path}` : r.path;
  if (r.domain && DOCKER_HUB.has(r.domain)) name = r.path.replace(/^library\/(?=[^/]+$)/, '');
  if (r.digest) return `${name}${r.tag ? `:${r.tag}` : ''}@${r.digest}`;
  return `${name}:${r.tag ?? 'latest'}`;
}

/** Splits a normalized "repo:tag" into its parts for listing. */
export function splitRepoTag(repoTag: string): { repository: string; tag: string } {
  const i = repoTag.lastIndexOf(':');
  if (i <= repoTag.lastIndexOf('/')) return { repository: repoTag, tag: '<none>' };
  return { repository: repoTag.slice(0, i), tag: repoTag.slice(i + 1) };
}
