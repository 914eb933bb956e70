// `run` and `create` pull an image that is not in the store, as Docker does.
// The registry client is loaded only then: most starts use a local image and
// should not pay for loading it.
import { ImageStore } from '../image/store.js';

export async function ensureLocal(ref: string): Promise<void> {
  const images = new ImageStore();
  try {
    if (images.lookup(ref)) return;
  } catch {
    // an odd reference: let the registry code report it properly
  }
  const { ensureImage } = await import('../registry/pull.js');
  await ensureImage(images, ref, { out: process.stderr });
}
