// What `inspect` shows of a container or an image: Docker's shape, shared by
// `skiff inspect` and the Engine API.
import type { ContainerRecord } from '../container/model.js';
import type { Image, ImageStore } from '../image/store.js';
import { dockerLinks } from '../network/index.js';
import { goStruct } from './template/index.js';

/**
 * Docker's ExposedPorts and Volumes are sets, Go maps to struct{}: a template prints
 * `map[5000/tcp:{}]`, as Docker does, not `map[5000/tcp:map[]]`.
 */
function withSets<T extends { ExposedPorts?: Record<string, object>; Volumes?: Record<string, object> | null }>(config: T): T {
  const set = (m: Record<string, object>) => Object.fromEntries(Object.keys(m).map((k) => [k, goStruct({})]));
  return {
    ...config,
    ...(config.ExposedPorts && { ExposedPorts: set(config.ExposedPorts) }),
    ...(config.Volumes && { Volumes: set(config.Volumes) }),
  };
}

/** Docker's inspect view of a container: the record without skiff's private fields. */
export function containerView(c: ContainerRecord) {
  const { Skiff: _private, ...rest } = c;
  const dir = c.LogPath.slice(0, c.LogPath.lastIndexOf('/'));
  const links = dockerLinks(c);
  return {
    ...rest, Config: withSets(rest.Config), HostConfig: { ...rest.HostConfig, Links: links.length ? links : null, LogConfig: { Type: 'json-file', Config: {} }, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } }, Platform: 'linux', Driver: 'overlay', RestartCount: 0,
    ResolvConfPath: `${dir}/resolv.conf`, HostnamePath: `${dir}/hostname`, HostsPath: `${dir}/hosts`,
  };
}

export function imageView(store: ImageStore, img: Image) {
  const c = img.config;
  return {
    Id: img.id, RepoTags: img.repoTags, RepoDigests: img.repoDigests, Parent: '', Comment: c.history?.at(-1)?.comment ?? '',
    Created: c.created ?? '', Author: c.author ?? '', Config: withSets(c.config ?? {}), Architecture: c.architecture ?? '', Os: c.os ?? '',
    Size: store.size(img), GraphDriver: { Name: 'overlay', Data: { LowerDir: c.rootfs.diff_ids.map((d) => store.layerPath(d)).reverse().join(':') } },
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
  };
}
