// One linear pass over a JSON object's top-level members, reading the members a caller names the
// way providers' JSON parsers do: the last of duplicate keys wins (Python, Node and Go all keep the
// last), escaped key names are decoded ("\u006dodel" is "model"), and a key that matches a name
// only case-insensitively (Go's decoder accepts "MODEL", and folds "ſ" to "s" and the Kelvin sign
// to "k") is kept apart, so the caller can see when parsers would disagree. Pure; never traps.
import { ScanKind, ScanResult, skipSpace, skipString, skipValue, valueAt } from "./json_scan";

/** Keys longer than this (decoded) cannot be a name a caller asks for; they are skipped unread. */
const MAX_KEY = 64;

/**
 * What one pass found for each name asked: its last exact occurrence (what Python and Node read)
 * and its last occurrence exact or case-insensitive (what Go reads).
 */
export class Members {
  /** The body is not a JSON object this pass could follow to its end. */
  invalid: bool = false;
  exact: Array<ScanResult | null>;
  folded: Array<ScanResult | null>;
  constructor(n: i32) {
    this.exact = new Array<ScanResult | null>(n).fill(null);
    this.folded = new Array<ScanResult | null>(n).fill(null);
  }
}

// The key between `from` and `to` (raw, escapes as sent) decoded into `out` as UTF-16 code units;
// its length, or -1 when longer than MAX_KEY or malformed.
function decodeKey(base: usize, from: i32, to: i32, out: StaticArray<u16>): i32 {
  let n = 0;
  let i = from;
  while (i < to) {
    if (n >= MAX_KEY) return -1;
    let c = <i32>load<u8>(base + <usize>i);
    if (c != 0x5c) {
      // Bytes of a multi-byte UTF-8 character are kept as they are: no name has one.
      out[n++] = <u16>c;
      i++;
      continue;
    }
    if (i + 1 >= to) return -1;
    const e = <i32>load<u8>(base + <usize>(i + 1));
    i += 2;
    if (e == 0x75) {
      if (i + 4 > to) return -1;
      let v = 0;
      for (let k = 0; k < 4; k++) {
        const h = <i32>load<u8>(base + <usize>(i + k));
        const d = h >= 0x30 && h <= 0x39 ? h - 0x30 : (h | 0x20) >= 0x61 && (h | 0x20) <= 0x66 ? (h | 0x20) - 0x61 + 10 : -1;
        if (d < 0) return -1;
        v = (v << 4) | d;
      }
      i += 4;
      c = v;
    } else if (e == 0x6e) c = 0x0a;
    else if (e == 0x74) c = 0x09;
    else if (e == 0x72) c = 0x0d;
    else if (e == 0x62) c = 0x08;
    else if (e == 0x66) c = 0x0c;
    else c = e;
    out[n++] = <u16>c;
  }
  return n;
}

// A code unit as Go's case-insensitive match sees it against an ASCII lower-case name.
@inline function fold(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c | 0x20;
  if (c == 0x17f) return 0x73;
  if (c == 0x212a) return 0x6b;
  return c;
}

/**
 * Reads the top-level members named `names` (ASCII; lower case for the case-insensitive match) of
 * the object that starts at `from` in the first `used` bytes of `buf`, in one pass whatever its
 * size, nesting and escapes.
 */
export function readMembers(buf: ArrayBuffer, used: i32, names: string[], from: i32 = 0): Members {
  const found = new Members(names.length);
  const base = changetype<usize>(buf);
  const n = used < buf.byteLength ? used : buf.byteLength;
  const key = new StaticArray<u16>(MAX_KEY);
  let i = skipSpace(base, from, n);
  if (i >= n || load<u8>(base + <usize>i) != 0x7b) {
    found.invalid = true;
    return found;
  }
  i = skipSpace(base, i + 1, n);
  if (i < n && load<u8>(base + <usize>i) == 0x7d) return found;
  while (i < n) {
    if (load<u8>(base + <usize>i) != 0x22) break;
    const keyStart = i + 1;
    i = skipString(base, i, n);
    if (i < 0) break;
    const length = decodeKey(base, keyStart, i - 1, key);
    i = skipSpace(base, i, n);
    if (i >= n || load<u8>(base + <usize>i) != 0x3a) break;
    i = skipSpace(base, i + 1, n);
    if (i >= n) break;
    const value = valueAt(base, i, n);
    if (value.kind == ScanKind.Invalid) break;
    if (length >= 0) record(found, names, key, length, value);
    i = skipValue(base, i, n);
    if (i < 0) break;
    i = skipSpace(base, i, n);
    if (i >= n) break;
    const sep = load<u8>(base + <usize>i);
    if (sep == 0x7d) return found;
    if (sep != 0x2c) break;
    i = skipSpace(base, i + 1, n);
  }
  found.invalid = true;
  return found;
}

function record(found: Members, names: string[], key: StaticArray<u16>, length: i32, value: ScanResult): void {
  for (let k = 0; k < names.length; k++) {
    const name = names[k];
    if (name.length != length) continue;
    let exact = true;
    let folded = true;
    for (let j = 0; j < length && (exact || folded); j++) {
      const c = <i32>key[j];
      const want = name.charCodeAt(j);
      if (c != want) exact = false;
      if (fold(c) != want) folded = false;
    }
    if (exact) found.exact[k] = value;
    if (folded) found.folded[k] = value;
  }
}
