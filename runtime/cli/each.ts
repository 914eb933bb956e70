// Docker's multi-container verbs (stop a b c) act on each, print each name
// as given on success, report each failure on stderr, and exit 1 if any failed.
import { findLive } from '../container/lifecycle.js';
import type { ContainerRecord } from '../container/model.js';

export async function eachContainer(refs: string[], fn: (rec: ContainerRecord) => Promise<void> | void, print = true): Promise<void> {
  let failed = false;
  for (const ref of refs) {
    try {
      await fn(findLive(ref));
      if (print) process.stdout.write(`${ref}\n`);
    } catch (e) {
      process.stderr.write(`skiff: ${(e as Error).message}\n`);
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}
