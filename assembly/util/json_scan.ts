// One linear pass over a JSON object's bytes to find a top-level member, without building the
// document: request bodies are client input of any size and any number of escapes. Tolerant:
// anything it cannot follow is reported as Invalid, never trapped on.

/** What a top-level member's value is. */
export const enum ScanKind { Absent = 0, True = 1, False = 2, String = 3, Other = 4, Invalid = 5 }

/** Result of findTopLevel: for a string, its raw bytes (escapes left as sent) lie in [start, end); for another value, the value's bytes. */
export class ScanResult {
  constructor(public kind: ScanKind, public start: i32 = 0, public end: i32 = 0) {}
}

@inline function at(base: usize, i: i32): i32 { return <i32>load<u8>(base + <usize>i); }

function skipSpace(base: usize, i: i32, n: i32): i32 {
  while (i < n) {
    const c = at(base, i);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    i++;
  }
  return i;
}

// From the opening quote; returns the index after the closing quote, or -1.
function skipString(base: usize, i: i32, n: i32): i32 {
  i++;
  while (i < n) {
    const c = at(base, i);
    if (c == 0x22) return i + 1;
    i += c == 0x5c ? 2 : 1;
  }
  return -1;
}

// Skips one value of any depth without recursion; returns the index after it, or -1.
function skipValue(base: usize, i: i32, n: i32): i32 {
  if (i >= n) return -1;
  const c = at(base, i);
  if (c == 0x22) return skipString(base, i, n);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < n) {
      const d = at(base, i);
      if (d == 0x22) {
        i = skipString(base, i, n);
        if (i < 0) return -1;
        continue;
      }
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  while (i < n) {
    const d = at(base, i);
    if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x0a || d == 0x0d || d == 0x09) break;
    i++;
  }
  return i;
}

function keyEquals(base: usize, from: i32, to: i32, key: ArrayBuffer): bool {
  const len = to - from;
  return len == key.byteLength && memory.compare(base + <usize>from, changetype<usize>(key), <usize>len) == 0;
}

function isWord(base: usize, i: i32, n: i32, word: string): bool {
  if (i + word.length > n) return false;
  for (let k = 0; k < word.length; k++) if (at(base, i + k) != word.charCodeAt(k)) return false;
  return true;
}

/** Finds the top-level member `key` (UTF-8, no escapes) in the first `used` bytes of a JSON object. */
export function findTopLevel(buf: ArrayBuffer, used: i32, key: ArrayBuffer): ScanResult {
  const base = changetype<usize>(buf);
  const n = used < buf.byteLength ? used : buf.byteLength;
  let i = skipSpace(base, 0, n);
  if (i >= n || at(base, i) != 0x7b) return new ScanResult(ScanKind.Invalid);
  i = skipSpace(base, i + 1, n);
  if (i < n && at(base, i) == 0x7d) return new ScanResult(ScanKind.Absent);
  while (i < n) {
    if (at(base, i) != 0x22) break;
    const keyStart = i + 1;
    i = skipString(base, i, n);
    if (i < 0) break;
    const match = keyEquals(base, keyStart, i - 1, key);
    i = skipSpace(base, i, n);
    if (i >= n || at(base, i) != 0x3a) break;
    i = skipSpace(base, i + 1, n);
    if (i >= n) break;
    if (match) {
      const c = at(base, i);
      if (c == 0x22) {
        const end = skipString(base, i, n);
        return end < 0 ? new ScanResult(ScanKind.Invalid) : new ScanResult(ScanKind.String, i + 1, end - 1);
      }
      if (isWord(base, i, n, "true")) return new ScanResult(ScanKind.True);
      if (isWord(base, i, n, "false")) return new ScanResult(ScanKind.False);
      return new ScanResult(ScanKind.Other, i, skipValue(base, i, n));
    }
    i = skipValue(base, i, n);
    if (i < 0) break;
    i = skipSpace(base, i, n);
    if (i >= n) break;
    const sep = at(base, i);
    if (sep == 0x7d) return new ScanResult(ScanKind.Absent);
    if (sep != 0x2c) break;
    i = skipSpace(base, i + 1, n);
  }
  return new ScanResult(ScanKind.Invalid);
}

/** A top-level member's value as a non-negative integer, or -1 (absent, not a plain integer, too large). */
export function topLevelInteger(buf: ArrayBuffer, key: ArrayBuffer): i64 {
  const r = findTopLevel(buf, buf.byteLength, key);
  if (r.kind != ScanKind.Other || r.end <= r.start || r.end - r.start > 12) return -1;
  const base = changetype<usize>(buf);
  let v: i64 = 0;
  for (let i = r.start; i < r.end; i++) {
    const c = at(base, i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}
