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

/** globMatch over `len` UTF-8 bytes at `ptr` (a path as the host serialized it): no string is built. */
export function globMatchBytes(pattern: string, ptr: usize, len: i32): bool {
  let p = 0, t = 0;
  let star = -1, mark = 0;
  while (t < len) {
    const c = <i32>load<u8>(ptr + <usize>t);
    if (p < pattern.length && (pattern.charCodeAt(p) == 0x3f || pattern.charCodeAt(p) == c)) {
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
