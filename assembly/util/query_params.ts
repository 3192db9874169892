// Removing parameters from a request path's query string, matched the way a provider's server
// reads their names: percent-decoded and (for robustness) case-insensitively. Pure; linear.

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

// The parameter name in [from, to) of `path`, percent-decoded ("+" is a space) and lower-cased.
function decodedName(path: string, from: i32, to: i32): string {
  if (to - from > 64) return "";
  let out = "";
  for (let i = from; i < to; i++) {
    let c = path.charCodeAt(i);
    if (c == 0x25 && i + 2 < to) {
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        c = (hi << 4) | lo;
        i += 2;
      }
    } else if (c == 0x2b) {
      c = 0x20;
    }
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    out += String.fromCharCode(c);
  }
  return out;
}

/**
 * `path` without the query parameters named in `names` (lower case), or null when it has none of
 * them. The path before the query and every other parameter stay byte for byte.
 */
export function withoutParams(path: string, names: string[]): string | null {
  const q = path.indexOf("?");
  if (q < 0 || names.length == 0) return null;
  const kept: string[] = [];
  let removed = false;
  let start = q + 1;
  while (start <= path.length) {
    let end = path.indexOf("&", start);
    if (end < 0) end = path.length;
    let eq = path.indexOf("=", start);
    if (eq < 0 || eq > end) eq = end;
    if (end > start && names.includes(decodedName(path, start, eq))) removed = true;
    else if (end > start) kept.push(path.substring(start, end));
    start = end + 1;
  }
  if (!removed) return null;
  const base = path.substring(0, q);
  return kept.length == 0 ? base : base + "?" + kept.join("&");
}
