// Docker's table layout: Go's text/tabwriter with minwidth 10 (20 for
// `top`), padding 3 and spaces. A cell ends at a tab; the text after a line's last tab is not
// aligned. A column's width is the widest of its cells in a block of
// consecutive lines that have that column (as tabwriter does), at least 10.
// Trailing blanks of each line are dropped.

/** Aligns tab-separated text ("a\tb\nc\td\n"). */
export function tabwrite(text: string, minWidth = 10): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const trailingNewline = text.endsWith('\n');
  if (trailingNewline) lines.pop();
  const widths = lines.map((cells) => new Array<number>(Math.max(cells.length - 1, 0)).fill(0));
  const columns = Math.max(0, ...lines.map((c) => c.length - 1));
  for (let col = 0; col < columns; col++) {
    for (let i = 0; i < lines.length;) {
      if (lines[i].length - 1 <= col) { i++; continue; }
      let j = i;
      let width = minWidth;
      while (j < lines.length && lines[j].length - 1 > col) width = Math.max(width, [...lines[j++][col]].length + 3);
      for (let k = i; k < j; k++) widths[k][col] = width;
      i = j;
    }
  }
  const out = lines.map((cells, i) => cells.map((cell, c) => (c < cells.length - 1 ? cell + ' '.repeat(widths[i][c] - [...cell].length) : cell)).join('').trimEnd());
  return out.join('\n') + (trailingNewline ? '\n' : '');
}

/** Rows of cells as a table (the first row is the header). */
export function table(rows: string[][], minWidth = 10): string {
  if (rows.length === 0) return '';
  return tabwrite(rows.map((r) => `${r.join('\t')}\n`).join(''), minWidth);
}
