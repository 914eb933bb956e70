// koffi declarations of libnftables, the library the nft command is a thin
// shell around (see runtime/network/nftlib.ts for why skiff calls it
// in-process). One context, made on first use, for the life of the process.
import { koffiLib } from './libc.js';

export interface Lib {
  run(ctx: unknown, script: string): number;
  setFlags(ctx: unknown, flags: number): void;
  errors(ctx: unknown): string;
  output(ctx: unknown): string;
  ctx: unknown;
}

let lib: Lib | null | undefined;

/** The library, or null where it cannot be loaded (not installed). */
export function nftables(): Lib | null {
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

/** NFT_CTX_OUTPUT_JSON (libnftables.h): listings in JSON, as `nft -j`. */
export const OUTPUT_JSON = 1 << 4;
