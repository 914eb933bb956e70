// `skiff run [flags] IMAGE [COMMAND...]`: flags after the image belong to the
// command, so argv is split at the image before yargs sees it. To know where
// the image is, we must know which flags consume a value (`-e X`, `-m 1g`).

/** Index of the first non-flag word in `args`, or args.length. */
export function imageIndex(args: string[], valueFlags: Set<string>): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return i + 1;
    if (a === '-' || !a.startsWith('-')) return i;
    if (a.startsWith('--')) {
      if (!a.includes('=') && valueFlags.has(a.slice(2))) i++;
      continue;
    }
    // A cluster of short flags, e.g. -it or -e FOO=1 or -eFOO=1.
    for (let c = 1; c < a.length; c++) {
      if (valueFlags.has(a[c])) {
        if (c === a.length - 1) i++;
        break;
      }
    }
  }
  return args.length;
}

/** Splits at the image: [flags + image, command words]. A `--` before the image is dropped. */
export function splitAtImage(args: string[], valueFlags: Set<string>): [string[], string[]] {
  const i = imageIndex(args, valueFlags);
  const head = args.slice(0, i + 1).filter((a, k) => !(a === '--' && k === i - 1));
  return [head, args.slice(i + 1)];
}

/** Flags that take a value, read from a yargs instance's option table (names and aliases). */
export function valueFlagsOf(opts: { string: string[]; number: string[]; array: string[]; alias: Record<string, string[]> }): Set<string> {
  const names = new Set([...opts.string, ...opts.number, ...opts.array]);
  for (const [name, aliases] of Object.entries(opts.alias)) {
    if (names.has(name) || aliases.some((x) => names.has(x))) {
      names.add(name);
      aliases.forEach((x) => names.add(x));
    }
  }
  return names;
}
