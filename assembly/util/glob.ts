// Model-name patterns: `*` matches any run of characters, `?` one character, everything else
// itself (case-sensitive). Pure.

/** Whether `pattern` matches all of `text`; linear in practice (greedy with one backtrack point). */
export function globMatch(pattern: string, text: string): bool {
  let p = 0, t = 0;
  let star = -1, mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern.charCodeAt(p) == 0x3f || pattern.charCodeAt(p) == text.charCodeAt(t))) {
      p++;
      t++;
    } else if (p < pattern.length && pattern.charCodeAt(p) == 0x2a) {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) == 0x2a) p++;
  return p == pattern.length;
}
