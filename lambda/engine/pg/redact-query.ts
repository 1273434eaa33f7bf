/** A statement as it may be shown in a report: literals blanked, bounded in length. */

/** Blanks string and number literals of a statement (`'…'`, `$$…$$`, `E'…'`, digits), bounded in length. */
export function redactQuery(query: string | null, max = 120): string {
  if (!query) return '';
  const blanked = query
    .replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$/g, '$$…$$')
    .replace(/[EeBbXxUu]?'(?:[^']|'')*'/g, "'…'")
    .replace(/\b\d+(\.\d+)?\b/g, '0')
    .replace(/\s+/g, ' ')
    .trim();
  return blanked.length > max ? `${blanked.slice(0, max)}…` : blanked;
}
