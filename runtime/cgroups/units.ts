const MULTIPLIERS: Record<string, number> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * Parses a size like Docker's --memory (go-units RAMInBytes): a decimal number, an
 * optional space, then an optional case-insensitive suffix b, k, m, g, t or p with
 * an optional "b" or "ib" (binary multiples in every spelling: 1kb = 1kib = 1024).
 */
export function parseMemorySize(input: string): number {
  const bad = (why?: string): Error => new Error(`invalid size: '${input}'${why ? `: ${why}` : ''}`);
  const m = /^(\d+\.?\d*|\.\d+) ?([a-z]*)$/i.exec(input);
  if (!m) throw bad();
  const [, num, rawSuffix] = m;
  const suffix = rawSuffix.toLowerCase();
  let size = Number(num);
  if (suffix !== '' && suffix !== 'b') {
    const mul = MULTIPLIERS[suffix[0]];
    if (mul === undefined || !['', 'b', 'ib'].includes(suffix.slice(1))) throw bad(`invalid suffix: '${rawSuffix}'`);
    size *= mul;
  }
  size = Math.trunc(size);
  if (!Number.isSafeInteger(size)) throw bad('too large');
  return size;
}

/** Parses Docker's --cpus ("1.5") into nano CPUs (1500000000), exactly. */
export function parseCpus(input: string): number {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(input);
  if (!m || !/\d/.test(input)) throw new Error(`invalid cpus: '${input}' is not a decimal number`);
  const [, whole, frac = ''] = m;
  const digits = frac.replace(/0+$/, '');
  if (digits.length > 9) throw new Error(`invalid cpus: '${input}' is too precise`);
  const nano = BigInt(whole || '0') * 1_000_000_000n + BigInt(digits.padEnd(9, '0'));
  if (nano > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`invalid cpus: '${input}' is too large`);
  return Number(nano);
}
