// Model-name and path patterns: `*` matches any run of characters, `?` one character, everything
// else itself (case-sensitive). Pure.

/** Whether `pattern` matches all of `text`; linear in practice (greedy with one backtrack point). */
export function globMatch(pattern: string, text: string): bool {
  return match<string>(pattern, text, text.length);
}

/** globMatch over `len` UTF-8 bytes at `ptr` (a path as the host serialized it): no string is built. */
export function globMatchBytes(pattern: string, ptr: usize, len: i32): bool {
  return match<usize>(pattern, ptr, len);
}

// The unit at `i` of a string's UTF-16 code units, or of bytes at an address.
// @ts-ignore: decorator
@inline function unitAt<T>(text: T, i: i32): i32 {
  if (isString<T>()) return changetype<string>(text).charCodeAt(i);
  return <i32>load<u8>(changetype<usize>(text) + <usize>i);
}

function match<T>(pattern: string, text: T, len: i32): bool {
  let p = 0, t = 0;
  let star = -1, mark = 0;
  while (t < len) {
    if (p < pattern.length && (pattern.charCodeAt(p) == 0x3f || pattern.charCodeAt(p) == unitAt<T>(text, t))) {
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
