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
import { koffiLib } from '../../native-bindings/libc.js';

interface Lib {
  run(ctx: unknown, script: string): number;
  setFlags(ctx: unknown, flags: number): void;
  errors(ctx: unknown): string;
  output(ctx: unknown): string;
  ctx: unknown;
}

let lib: Lib | null | undefined;

function load(): Lib | null {
  if (lib !== undefined) return lib;
  try {
    const so = koffiLib().load('libnftables.so.1');
    const ctxNew = so.func('void *nft_ctx_new(uint32_t)');
    const bufferOutput = so.func('int nft_ctx_buffer_output(void *)');
    const bufferError = so.func('int nft_ctx_buffer_error(void *)');
    const getOutput = so.func('const char *nft_ctx_get_output_buffer(void *)');
    const getError = so.func('const char *nft_ctx_get_error_buffer(void *)');
    const run = so.func('int nft_run_cmd_from_buffer(void *, const char *)');
    const setFlags = so.func('void nft_ctx_output_set_flags(void *, uint32_t)');
    const ctx = ctxNew(0);
    if (!ctx || bufferOutput(ctx) !== 0 || bufferError(ctx) !== 0) throw new Error('nft_ctx_new failed');
    // Each get_*_buffer call returns what was written since the last one, and resets it.
    lib = { ctx, run: (c, s) => run(c, s) as number, setFlags: (c, f) => setFlags(c, f), errors: (c) => (getError(c) as string | null) ?? '', output: (c) => (getOutput(c) as string | null) ?? '' };
  } catch {
    lib = null;
  }
  return lib;
}

export interface NftResult { ok: boolean; out: string; err: string }

/** NFT_CTX_OUTPUT_JSON (libnftables.h): listings in JSON, as `nft -j`. */
const OUTPUT_JSON = 1 << 4;

/**
 * Runs an nft script as one transaction (`nft -f -`). `nftPath`: the
 * command, for the fallback. `json`: listings in JSON (with rule handles).
 */
export function nftScript(script: string, nftPath: string, json = false): NftResult {
  const l = load();
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
