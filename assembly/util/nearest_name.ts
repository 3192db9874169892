// The nearest of some known names to a misspelt one, for "did you mean" hints. Pure.

/**
 * The known name closest to `name` (case aside, at most two edits away, and fewer than half its
 * letters), or "" when none is that close.
 */
export function nearestName(name: string, known: string[]): string {
  const a = name.toLowerCase();
  if (a.length > 64) return "";
  let best = "";
  let bestDistance = min(3, (a.length + 1) / 2);
  for (let i = 0; i < known.length; i++) {
    const d = editDistance(a, known[i].toLowerCase());
    if (d < bestDistance) { bestDistance = d; best = known[i]; }
  }
  return best;
}

// Levenshtein distance, one row at a time (names are short).
function editDistance(a: string, b: string): i32 {
  let row = new Array<i32>(b.length + 1);
  for (let j = 0; j <= b.length; j++) row[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const next = new Array<i32>(b.length + 1);
    next[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) == b.charCodeAt(j - 1) ? 0 : 1;
      next[j] = min(min(row[j] + 1, next[j - 1] + 1), row[j - 1] + cost);
    }
    row = next;
  }
  return row[b.length];
}
