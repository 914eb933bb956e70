// Bytes used by the files under a directory, counted as Docker counts a
// container's writable layer: every non-directory once (hard links once).
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** SKIP: paths relative to DIR that do not count. */
export function dirSize(dir: string, skip: ReadonlySet<string> = new Set()): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return; // gone, or not a directory
    }
    for (const name of names) {
      const p = join(d, name);
      if (skip.has(p.slice(dir.length + 1))) continue;
      let st;
      try {
        st = lstatSync(p, { bigint: false });
      } catch {
        continue;
      }
      if (st.isDirectory()) { walk(p); continue; }
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1 && seen.has(key)) continue;
      seen.add(key);
      total += st.size;
    }
  };
  walk(dir);
  return total;
}
