// Where a reference lives: Docker's defaults for registries.
//
//   busybox                       -> docker.io, repository library/busybox, tag latest
//   ouruser/sinatra:v2            -> docker.io, repository ouruser/sinatra
//   127.0.0.1:5000/test/busybox:1 -> 127.0.0.1:5000, repository test/busybox
//
// Short names (no registry part) go to the default registry: docker.io unless
// config `registry` or SKIFF_REGISTRY names another one. The `library/` prefix
// is Docker Hub's convention and is only added there.
//
// Locally, an image keeps its familiar name: the registry part is dropped when
// it is the default registry (and `library/` with it on Docker Hub), so
// `skiff pull busybox` lists as `busybox:latest`, like Docker's docker.io images.
import { config } from '../config.js';
import { parseReference } from '../image/reference.js';
import { SkiffError } from '../util/errors.js';

export const DOCKER_HUB = 'docker.io';
/** The host Docker Hub's registry API is served from. */
export const DOCKER_HUB_API = 'registry-1.docker.io';
/** The key Docker's config.json uses for Docker Hub credentials. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

export interface RemoteReference {
  /** Canonical registry name: "docker.io" or "host[:port]". */
  registry: string;
  /** Host[:port] the API is reached at ("registry-1.docker.io" for docker.io). */
  apiHost: string;
  /** Repository path on that registry, e.g. "library/busybox". */
  repository: string;
  /** Always set unless the reference is by digest only. */
  tag?: string;
  digest?: string;
  /** True when the user gave no tag and no digest ("Using default tag: latest"). */
  defaultedTag: boolean;
  /** Repository name as the local store shows it: "busybox" or "127.0.0.1:5000/test/busybox". */
  localRepository: string;
  /** Fully qualified name without tag: "docker.io/library/busybox". */
  fullRepository: string;
}

/** Hub's several spellings all mean docker.io. */
export function canonicalRegistry(host: string): string {
  const h = host.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'registry.hub.docker.com' || h === 'docker.io') return DOCKER_HUB;
  return h;
}

/** The registry short names go to: SKIFF_REGISTRY, else config `registry`, else docker.io. */
export function defaultRegistry(): string {
  const configured = process.env.SKIFF_REGISTRY || config().registry;
  return configured ? canonicalRegistry(configured) : DOCKER_HUB;
}

export function apiHostOf(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Resolves a user's reference to registry, repository and tag/digest. Throws on a bad reference. */
export function resolveReference(ref: string): RemoteReference {
  const r = parseReference(ref);
  const def = defaultRegistry();
  const registry = r.domain ? canonicalRegistry(r.domain) : def;
  let repository = r.path;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  // The familiar local name: no registry part for the default registry, and
  // no library/ for Hub's official images.
  let localRepository: string;
  if (registry === def) localRepository = registry === DOCKER_HUB ? repository.replace(/^library\//, '') : repository;
  else localRepository = `${registry}/${repository}`;
  const defaultedTag = !r.tag && !r.digest;
  return {
    registry,
    apiHost: apiHostOf(registry),
    repository,
    tag: r.tag ?? (r.digest ? undefined : 'latest'),
    digest: r.digest,
    defaultedTag,
    localRepository,
    fullRepository: `${registry}/${repository}`,
  };
}

/** "busybox:latest" or "busybox@sha256:..": the name the store records for a pulled reference. */
export function localName(r: RemoteReference): string {
  return r.digest ? `${r.localRepository}@${r.digest}` : `${r.localRepository}:${r.tag}`;
}

/** "docker.io/library/busybox:latest": what `pull` prints last. */
export function fullName(r: RemoteReference): string {
  return r.digest ? `${r.fullRepository}@${r.digest}` : `${r.fullRepository}:${r.tag}`;
}

/** What the user names a registry as (login/logout SERVER): "127.0.0.1:5000", "docker.io", a URL. */
export function parseServer(server: string | undefined): string {
  if (!server) return defaultRegistry();
  const reg = canonicalRegistry(server);
  if (!/^[a-z0-9.-]+(?::[0-9]+)?$|^\[[0-9a-f:]+\](?::[0-9]+)?$/i.test(reg)) throw new SkiffError(`invalid registry "${server}"`);
  return reg;
}

/** True for registries on this host: localhost, 127.0.0.0/8, ::1. Docker lets them speak plain HTTP. */
export function isLoopback(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || /^127(?:\.[0-9]{1,3}){3}$/.test(host) || host === '::1';
}

/** Registries the user allows over plain HTTP: config `insecure-registries` and SKIFF_INSECURE_REGISTRIES (comma-separated). */
export function insecureRegistries(): string[] {
  const fromEnv = (process.env.SKIFF_INSECURE_REGISTRIES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return [...(config()['insecure-registries'] ?? []), ...fromEnv].map(canonicalRegistry);
}

export function isInsecure(registry: string): boolean {
  return isLoopback(registry) || insecureRegistries().includes(canonicalRegistry(registry));
}

/** "127.0.0.1:5000/busy" searches that registry for "busy"; a plain term searches the default registry. */
export function splitTerm(term: string): { registry: string; term: string } {
  const i = term.indexOf('/');
  const first = i < 0 ? '' : term.slice(0, i);
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return { registry: canonicalRegistry(first), term: term.slice(i + 1) };
  }
  return { registry: defaultRegistry(), term };
}
