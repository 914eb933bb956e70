// The certificate authorities skiff's registry connections trust.
//
// Node's own list, plus the file that NODE_EXTRA_CA_CERTS named when skiff was
// started. Node 20 (with OpenSSL 3) reads that file, and builds its whole root
// store with it, at every process start before any JavaScript runs: 90 ms of
// every `skiff ps` on a machine that sets the variable (nodejs/node#40524;
// Node 24 defers it). skiff's launchers (tools/bundle.mjs) therefore move the
// variable to SKIFF_NODE_EXTRA_CA_CERTS, and the certificates are read here,
// by the one part of skiff that makes TLS connections, when it first needs them.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

export const DEFERRED_CA_ENV = 'SKIFF_NODE_EXTRA_CA_CERTS';

let trust: { ca?: string[] } | undefined;

/** TLS options for a registry connection: `{}` (Node's defaults) or `{ ca }` with the deferred certificates added. */
export function registryTrust(): { ca?: string[] } {
  if (trust) return trust;
  trust = {};
  // Unset when skiff was started without a launcher: then Node has added them itself.
  const file = process.env[DEFERRED_CA_ENV];
  if (!file) return trust;
  try {
    trust = { ca: [...tls.rootCertificates, readFileSync(file, 'utf8')] };
  } catch (e) {
    // Node's own words for the same failure; like Node, go on without them.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
  }
  return trust;
}
