// Where skiff keeps its state. One root (SKIFF_ROOT, default /var/lib/skiff)
// holds everything, so a test can use a private root and remove it whole.
import { join } from 'node:path';

export function skiffRoot(): string {
  return process.env.SKIFF_ROOT || '/var/lib/skiff';
}

export const paths = {
  images: (root = skiffRoot()) => join(root, 'image'),
  layers: (root = skiffRoot()) => join(root, 'image', 'layers'),
  containers: (root = skiffRoot()) => join(root, 'containers'),
  container: (id: string, root = skiffRoot()) => join(root, 'containers', id),
  locks: (root = skiffRoot()) => join(root, 'locks'),
  tmp: (root = skiffRoot()) => join(root, 'tmp'),
  volumes: (root = skiffRoot()) => join(root, 'volumes'),
};
