import type { CommandModule } from 'yargs';
import { findLive } from '../../container/lifecycle.js';
import type { ContainerRecord } from '../../container/model.js';
import { ImageStore, type Image } from '../../image/store.js';
import { SkiffError } from '../../util/errors.js';
import { compileGoTemplate, goStruct } from '../template/index.js';
import { dockerLinks } from '../../network/index.js';

interface Args { names: string[]; format?: string; type?: string }

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
    ...rest, Config: withSets(rest.Config), HostConfig: { ...rest.HostConfig, Links: links.length ? links : null }, Platform: 'linux', Driver: 'overlay', RestartCount: 0,
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

const cmd: CommandModule<object, Args> = {
  command: 'inspect <names..>',
  describe: 'Return low-level information on containers or images',
  builder: (y) => y
    .positional('names', { type: 'string', array: true, demandOption: true })
    .option('format', { alias: 'f', type: 'string', describe: 'Format output using a Go template' })
    .option('type', { type: 'string', choices: ['container', 'image'], describe: 'Only look at this kind of object' }) as never,
  handler: (a) => {
    const images = new ImageStore();
    const views: unknown[] = [];
    let failed = false;
    for (const name of a.names) {
      try {
        if (a.type !== 'image') {
          try {
            views.push(containerView(findLive(name)));
            continue;
          } catch (e) {
            if (a.type === 'container') throw e;
          }
        }
        const img = images.lookup(name);
        if (!img) throw new SkiffError(`No such object: ${name}`, 1);
        views.push(imageView(images, img));
      } catch (e) {
        process.stderr.write(`skiff: ${(e as Error).message}\n`);
        failed = true;
      }
    }
    if (a.format) {
      const t = compileGoTemplate(a.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      process.stdout.write(views.map((v) => `${t.execute(v)}\n`).join(''));
    } else {
      process.stdout.write(`${JSON.stringify(views, null, 4)}\n`);
    }
    if (failed) process.exitCode = 1;
  },
};
export default cmd;
