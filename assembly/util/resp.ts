// RESP, the Redis protocol: commands encoded as arrays of bulk strings, and replies read in one
// linear pass with bounded nesting. Pure.

/** What a reply is. */
export const enum RespKind { Simple = 0, Error = 1, Integer = 2, Bulk = 3, Nil = 4, Array = 5, Malformed = 6 }

/** Nested arrays deeper than this are malformed (a reply of ours is at most two deep). */
const MAX_DEPTH = 4;

export class RespValue {
  kind: RespKind = RespKind.Malformed;
  /** Simple string, error text or bulk string. */
  text: string = "";
  integer: i64 = 0;
  items: RespValue[] = [];

  /** The integer, or the decimal a bulk string holds; `dflt` when it is neither. */
  asInteger(dflt: i64): i64 {
    if (this.kind == RespKind.Integer) return this.integer;
    if (this.kind != RespKind.Bulk || this.text.length == 0 || this.text.length > 18) return dflt;
    let v: i64 = 0;
    const negative = this.text.charCodeAt(0) == 0x2d;
    for (let i = negative ? 1 : 0; i < this.text.length; i++) {
      const d = this.text.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) return dflt;
      v = v * 10 + d;
    }
    return negative ? -v : v;
  }

  static malformed(): RespValue { return new RespValue(); }
}

/** A command as RESP: `*<n>\r\n` then `$<len>\r\n<arg>\r\n` for each argument. */
export function encodeCommand(args: string[]): ArrayBuffer {
  let out = "*" + args.length.toString() + "\r\n";
  for (let i = 0; i < args.length; i++) {
    out += "$" + String.UTF8.byteLength(args[i]).toString() + "\r\n" + args[i] + "\r\n";
  }
  return String.UTF8.encode(out);
}

/** Reads one reply from `bytes`; Malformed when it is cut short or not RESP. */
export function parseReply(bytes: ArrayBuffer): RespValue {
  const reader = new RespReader(Uint8Array.wrap(bytes));
  const v = reader.value(0);
  return reader.failed ? RespValue.malformed() : v;
}

class RespReader {
  pos: i32 = 0;
  failed: bool = false;
  constructor(private b: Uint8Array) {}

  value(depth: i32): RespValue {
    const v = new RespValue();
    if (this.pos >= this.b.length || depth > MAX_DEPTH) { this.failed = true; return v; }
    const type = this.b[this.pos++];
    const line = this.line();
    if (this.failed) return v;
    if (type == 0x2b) { v.kind = RespKind.Simple; v.text = line; return v; }         // +
    if (type == 0x2d) { v.kind = RespKind.Error; v.text = line; return v; }          // -
    const n = decimal(line);
    if (n == i64.MIN_VALUE) { this.failed = true; return v; }
    if (type == 0x3a) { v.kind = RespKind.Integer; v.integer = n; return v; }        // :
    if (type == 0x24) return this.bulk(v, n);                                        // $
    if (type == 0x2a) {                                                              // *
      if (n < 0) { v.kind = RespKind.Nil; return v; }
      // Every element takes at least 3 bytes, so a count beyond what is left is malformed.
      if (n > <i64>(this.b.length - this.pos) / 3) { this.failed = true; return v; }
      v.kind = RespKind.Array;
      for (let i: i64 = 0; i < n && !this.failed; i++) v.items.push(this.value(depth + 1));
      return v;
    }
    this.failed = true;
    return v;
  }

  private bulk(v: RespValue, n: i64): RespValue {
    if (n < 0) { v.kind = RespKind.Nil; return v; }
    if (n > <i64>(this.b.length - this.pos - 2)) { this.failed = true; return v; }
    const start = this.pos, len = <i32>n;
    if (this.b[start + len] != 0x0d || this.b[start + len + 1] != 0x0a) { this.failed = true; return v; }
    v.kind = RespKind.Bulk;
    v.text = String.UTF8.decodeUnsafe(this.b.dataStart + <usize>start, <usize>len);
    this.pos = start + len + 2;
    return v;
  }

  // The text up to the next CRLF, which is consumed.
  private line(): string {
    const start = this.pos;
    for (let i = start; i + 1 < this.b.length; i++) {
      if (this.b[i] == 0x0d && this.b[i + 1] == 0x0a) {
        this.pos = i + 2;
        return String.UTF8.decodeUnsafe(this.b.dataStart + <usize>start, <usize>(i - start));
      }
    }
    this.failed = true;
    return "";
  }
}

// A RESP length or integer (optionally negative); i64.MIN_VALUE when it is not one.
function decimal(s: string): i64 {
  if (s.length == 0 || s.length > 19) return i64.MIN_VALUE;
  const negative = s.charCodeAt(0) == 0x2d;
  if (negative && s.length == 1) return i64.MIN_VALUE;
  let v: i64 = 0;
  for (let i = negative ? 1 : 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return i64.MIN_VALUE;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}
