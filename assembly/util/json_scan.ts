// The steps of a linear pass over JSON bytes without building the document: request bodies are
// client input of any size and any number of escapes. Tolerant: anything it cannot follow is
// reported as Invalid or -1, never trapped on. Pure.

/** What a top-level member's value is. */
export const enum ScanKind { Absent = 0, True = 1, False = 2, String = 3, Other = 4, Invalid = 5 }

/** A value found: for a string, its raw bytes (escapes left as sent) lie in [start, end); for another value, the value's bytes. */
export class ScanResult {
  constructor(public kind: ScanKind, public start: i32 = 0, public end: i32 = 0) {}
}

@inline function at(base: usize, i: i32): i32 { return <i32>load<u8>(base + <usize>i); }

/** The index of the first non-space byte from `i`. */
export function skipSpace(base: usize, i: i32, n: i32): i32 {
  while (i < n) {
    const c = at(base, i);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    i++;
  }
  return i;
}

/** From a string's opening quote: the index after its closing quote, or -1. */
export function skipString(base: usize, i: i32, n: i32): i32 {
  i++;
  while (i < n) {
    const c = at(base, i);
    if (c == 0x22) return i + 1;
    i += c == 0x5c ? 2 : 1;
  }
  return -1;
}

/** Skips one value of any depth without recursion: the index after it, or -1. */
export function skipValue(base: usize, i: i32, n: i32): i32 {
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

function isWord(base: usize, i: i32, n: i32, word: string): bool {
  if (i + word.length > n) return false;
  for (let k = 0; k < word.length; k++) if (at(base, i + k) != word.charCodeAt(k)) return false;
  return true;
}

/** The value starting at `i` (before `n`): what kind it is and where its bytes lie. */
export function valueAt(base: usize, i: i32, n: i32): ScanResult {
  if (i >= n) return new ScanResult(ScanKind.Invalid);
  if (at(base, i) == 0x22) {
    const end = skipString(base, i, n);
    return end < 0 ? new ScanResult(ScanKind.Invalid) : new ScanResult(ScanKind.String, i + 1, end - 1);
  }
  if (isWord(base, i, n, "true")) return new ScanResult(ScanKind.True, i, i + 4);
  if (isWord(base, i, n, "false")) return new ScanResult(ScanKind.False, i, i + 5);
  const end = skipValue(base, i, n);
  return end < 0 ? new ScanResult(ScanKind.Invalid) : new ScanResult(ScanKind.Other, i, end);
}

/** Numbers above this are read as this: no request asks for more tokens. */
const MAX_NUMBER: f64 = 1e12;

/**
 * The JSON number in [start, end) of `buf` rounded up to an integer (3e4, 30000.0 and 29999.5 all
 * read 30000), at most MAX_NUMBER; 0 for a negative one; -1 when the bytes are not a number.
 */
export function numberCeil(buf: ArrayBuffer, start: i32, end: i32): i64 {
  const base = changetype<usize>(buf);
  let i = start;
  if (i < end && at(base, i) == 0x2d) i++;
  const negative = i > start;
  let mantissa: f64 = 0;
  let scale = 0;
  let digits = 0;
  while (i < end && at(base, i) >= 0x30 && at(base, i) <= 0x39) {
    if (mantissa < MAX_NUMBER * 10) mantissa = mantissa * 10 + <f64>(at(base, i) - 0x30);
    else scale++;
    digits++;
    i++;
  }
  if (digits == 0) return -1;
  if (i < end && at(base, i) == 0x2e) {
    i++;
    let fraction = 0;
    while (i < end && at(base, i) >= 0x30 && at(base, i) <= 0x39) {
      if (mantissa < MAX_NUMBER * 10) {
        mantissa = mantissa * 10 + <f64>(at(base, i) - 0x30);
        scale--;
      }
      fraction++;
      i++;
    }
    if (fraction == 0) return -1;
  }
  if (i < end && (at(base, i) | 0x20) == 0x65) {
    i++;
    let sign = 1;
    if (i < end && (at(base, i) == 0x2b || at(base, i) == 0x2d)) {
      if (at(base, i) == 0x2d) sign = -1;
      i++;
    }
    let exponent = 0;
    let expDigits = 0;
    while (i < end && at(base, i) >= 0x30 && at(base, i) <= 0x39) {
      if (exponent < 10000) exponent = exponent * 10 + (at(base, i) - 0x30);
      expDigits++;
      i++;
    }
    if (expDigits == 0) return -1;
    scale += sign * exponent;
  }
  if (i != end) return -1;
  if (negative || mantissa == 0) return 0;
  if (scale > 40) return <i64>MAX_NUMBER;
  if (scale < -400) return 1;
  // Dividing keeps an exact quotient exact (300000 / 10 is 30000, where 300000 * 0.1 is not).
  const value = scale >= 0 ? mantissa * Math.pow(10, <f64>scale) : mantissa / Math.pow(10, <f64>-scale);
  return value >= MAX_NUMBER ? <i64>MAX_NUMBER : <i64>Math.ceil(value);
}
