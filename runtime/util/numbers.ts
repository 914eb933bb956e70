// Numbers from the user that end up in a syscall or a kernel file. JavaScript
// numbers are doubles and the C side takes 32-bit ints, so 4294967296 would
// silently become uid 0: every such input is checked here, as a decimal
// string, before it is converted.
import { constants } from 'node:os';
import { SkiffError } from './errors.js';

/** Docker's (and the kernel's signed-int) ceiling for uids and gids. */
export const MAX_ID = 2147483647;
/** The kernel's PID_MAX_LIMIT on 64-bit: pids.max accepts nothing larger. */
export const MAX_PIDS = 4194304;
/** SIGRTMAX on Linux. */
export const MAX_SIGNAL = 64;

/** An integer written in decimal digits (optionally signed) within [min, max]; exact for any length. */
export function parseIntIn(input: string, min: number, max: number, what: string): number {
  const s = input.trim();
  if (!/^[+-]?\d+$/.test(s)) throw new SkiffError(`invalid ${what} "${input}": not an integer`);
  const n = BigInt(s);
  if (n < BigInt(min) || n > BigInt(max)) throw new SkiffError(`invalid ${what} "${input}": must be from ${min} to ${max}`);
  return Number(n);
}

/** A uid or gid given as digits; Docker's message for the range. */
export function parseId(input: string, what: string): number {
  if (!/^\d+$/.test(input)) throw new SkiffError(`invalid ${what} "${input}": not a number`);
  if (BigInt(input) > BigInt(MAX_ID)) throw new SkiffError(`invalid ${what} "${input}": uids and gids must be in range 0-${MAX_ID}`);
  return Number(input);
}

/** A signal by name (KILL, SIGKILL) or number (9); 0 is not a signal. */
export function parseSignal(sig: string | number): number {
  const s = String(sig).trim();
  if (/^\d+$/.test(s)) {
    if (BigInt(s) < 1n || BigInt(s) > BigInt(MAX_SIGNAL)) throw new SkiffError(`invalid signal: ${sig}`);
    return Number(s);
  }
  const up = s.toUpperCase();
  const n = (constants.signals as Record<string, number>)[up.startsWith('SIG') ? up : `SIG${up}`];
  if (n === undefined) throw new SkiffError(`invalid signal: ${sig}`);
  return n;
}
