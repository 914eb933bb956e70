// nftables in this process, through libnftables (the library the nft
// command is a thin shell around), with `nft -f -` as the fallback where the
// library cannot be loaded.
//
// Why not just run nft: a bridge container's start and stop each make one
// nftables transaction, and a spawned nft costs a fork and exec of a ~3 MiB
// program plus, whenever the transaction deleted anything (every table
// rewrite does), an RCU grace period in close(): the kernel flushes the
// deferred destroy work when an nfnetlink socket is released (10-15 ms
// here). In process, the commit itself takes 1-2 ms, and the context (its
// netlink socket) stays open for the life of the process, so that grace
// period passes while the rest of the start or teardown runs instead of in
// front of it.
//
// The context belongs to the network namespace this thread was in when it
// was made: the host's, as skiff enters a container's namespace only briefly
// and only on the main thread inside one synchronous call (see plugVeth).
import { execFileSync } from 'node:child_process';
import { nftables, OUTPUT_JSON } from '../../native-bindings/nftables.js';

export interface NftResult { ok: boolean; out: string; err: string }

/**
 * Runs an nft script as one transaction (`nft -f -`). `nftPath`: the
 * command, for the fallback. `json`: listings in JSON (with rule handles).
 */
export function nftScript(script: string, nftPath: string, json = false): NftResult {
  const l = nftables();
  if (l) {
    l.errors(l.ctx);
    l.output(l.ctx);
    if (json) l.setFlags(l.ctx, OUTPUT_JSON);
    try {
      const rc = l.run(l.ctx, script);
      return { ok: rc === 0, out: l.output(l.ctx), err: l.errors(l.ctx).trim() };
    } finally {
      if (json) l.setFlags(l.ctx, 0);
    }
  }
  try {
    const out = execFileSync(nftPath, [...(json ? ['-j'] : []), '-f', '-'], { input: script, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    return { ok: true, out, err: '' };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (err.code === 'ENOENT') throw e;
    return { ok: false, out: err.stdout ?? '', err: err.stderr?.trim() || err.message };
  }
}
