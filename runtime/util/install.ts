// Where skiff's own files are. The CLI normally runs from a bundle
// (dist/bin/*.cjs, made by esbuild: one file loads much faster than ~50
// modules); tests and readers may also run the plain tsc output in
// dist/runtime/. Both must find the stage scripts they spawn.
import { join } from 'node:path';
import { packageRoot } from '../../native-bindings/helper.js';

declare const __SKIFF_BUNDLE__: boolean | undefined;
const bundled = typeof __SKIFF_BUNDLE__ !== 'undefined' && __SKIFF_BUNDLE__;

const SOURCES = { monitor: 'container/monitor.js', 'unpack-worker': 'image/unpack-worker.js' } as const;

/** The script a stage runs from: the detached monitor, or a layer-unpacking worker thread. */
export function stageScript(stage: keyof typeof SOURCES): string {
  if (bundled) return join(packageRoot(), 'dist', 'bin', `${stage}.cjs`);
  return join(packageRoot(), 'dist', 'runtime', SOURCES[stage]);
}
