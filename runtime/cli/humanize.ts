// Docker's wording for durations and sizes (go-units HumanDuration and HumanSize).
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

export function ago(when: string | Date, now = Date.now()): string {
  return `${humanDuration(now - new Date(when).getTime())} ago`;
}

/** Decimal units with 3 significant digits, as `docker images` prints sizes. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** Go's time.Time.String() in UTC, as docker prints CreatedAt: "2026-12-01 15:03:49 +0000 UTC". */
export function goTime(when: string | Date): string {
  const d = new Date(when);
  if (Number.isNaN(d.getTime())) return String(when);
  // From the UTC fields: V8's first toISOString() in a process costs ~0.3 ms,
  // which every `ps` and `images` paid for their CreatedAt column.
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}
