// Docker's table layout: Go's tabwriter with minwidth 10 and padding 3.
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const cols = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: cols - 1 }, (_, c) => Math.max(10, ...rows.map((r) => (r[c] ?? '').length + 3)));
  return rows.map((r) => r.map((cell, c) => (c < cols - 1 ? cell.padEnd(widths[c]) : cell)).join('').trimEnd()).join('\n') + '\n';
}
