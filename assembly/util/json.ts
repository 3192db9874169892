// A strict JSON reader for untrusted input: it never traps; a syntax error comes back with the document's result.

/** Kinds of JSON values. */
export const enum JsonKind { Null, Bool, Number, String, Array, Object }

/** One parsed JSON value; only the fields of its kind are meaningful. */
export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];

  /** Member of an object by name, or null (also null when this is not an object). */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }
}

/** Why the last parseJson call returned null. */

const MAX_DEPTH = 64;

class Reader {
  pos: i32 = 0;
  /** The first syntax error ("" while none). */
  error: string = "";
  constructor(public s: string) {}

  fail(what: string): JsonValue | null {
    if (this.error.length == 0) this.error = what + " at offset " + this.pos.toString();
    return null;
  }

  skipSpace(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  value(depth: i32): JsonValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting too deep");
    this.skipSpace();
    if (this.pos >= this.s.length) return this.fail("unexpected end");
    const c = this.s.charCodeAt(this.pos);
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const text = this.string();
      if (text == null) return null;
      const v = new JsonValue();
      v.kind = JsonKind.String;
      v.str = text;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.s.startsWith("true", this.pos)) { this.pos += 4; return boolValue(true); }
    if (this.s.startsWith("false", this.pos)) { this.pos += 5; return boolValue(false); }
    if (this.s.startsWith("null", this.pos)) { this.pos += 4; return new JsonValue(); }
    return this.fail("unexpected character");
  }

  object(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.pos++;
    this.skipSpace();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x7d) { this.pos++; return v; }
    while (true) {
      this.skipSpace();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x22) return this.fail("expected a member name");
      const key = this.string();
      if (key == null) return null;
      this.skipSpace();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x3a) return this.fail("expected ':'");
      this.pos++;
      const item = this.value(depth + 1);
      if (item == null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.skipSpace();
      if (this.pos >= this.s.length) return this.fail("unexpected end");
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x7d) return v;
      if (c != 0x2c) { this.pos--; return this.fail("expected ',' or '}'"); }
    }
  }

  array(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.pos++;
    this.skipSpace();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x5d) { this.pos++; return v; }
    while (true) {
      const item = this.value(depth + 1);
      if (item == null) return null;
      v.items.push(item);
      this.skipSpace();
      if (this.pos >= this.s.length) return this.fail("unexpected end");
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x5d) return v;
      if (c != 0x2c) { this.pos--; return this.fail("expected ',' or ']'"); }
    }
  }

  // Linear in the string's length: a string without escapes is one slice; one with escapes is
  // decoded into a buffer of UTF-16 units (never rebuilt by concatenation).
  string(): string | null {
    const s = this.s;
    const start = ++this.pos;
    let escapes = false;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c == 0x22) break;
      if (c < 0x20) { this.fail("control character in string"); return null; }
      if (c == 0x5c) { escapes = true; this.pos++; }
      this.pos++;
    }
    if (this.pos >= s.length) { this.fail("unterminated string"); return null; }
    const end = this.pos++;
    if (!escapes) return s.substring(start, end);
    const out = new ArrayBuffer((end - start) << 1);
    const base = changetype<usize>(out);
    let n = 0;
    for (let i = start; i < end; i++) {
      let c = s.charCodeAt(i);
      if (c == 0x5c) {
        const e = s.charCodeAt(++i);
        if (e == 0x22 || e == 0x5c || e == 0x2f) c = e;
        else if (e == 0x62) c = 0x08;
        else if (e == 0x66) c = 0x0c;
        else if (e == 0x6e) c = 0x0a;
        else if (e == 0x72) c = 0x0d;
        else if (e == 0x74) c = 0x09;
        else if (e == 0x75) {
          c = i + 4 < end ? parseHex4(s, i + 1) : -1;
          if (c < 0) { this.pos = i; this.fail("bad \\u escape"); return null; }
          i += 4;
        } else { this.pos = i; this.fail("bad escape"); return null; }
      }
      store<u16>(base + (<usize>n << 1), <u16>c);
      n++;
    }
    return String.UTF16.decodeUnsafe(base, <usize>n << 1);
  }

  number(): JsonValue | null {
    const s = this.s;
    const start = this.pos;
    if (s.charCodeAt(this.pos) == 0x2d) this.pos++;
    const intStart = this.pos;
    while (this.pos < s.length && isDigit(s.charCodeAt(this.pos))) this.pos++;
    if (this.pos == intStart) return this.fail("bad number");
    if (s.charCodeAt(intStart) == 0x30 && this.pos - intStart > 1) return this.fail("leading zero");
    if (this.pos < s.length && s.charCodeAt(this.pos) == 0x2e) {
      this.pos++;
      const fracStart = this.pos;
      while (this.pos < s.length && isDigit(s.charCodeAt(this.pos))) this.pos++;
      if (this.pos == fracStart) return this.fail("bad number");
    }
    if (this.pos < s.length && (s.charCodeAt(this.pos) | 0x20) == 0x65) {
      this.pos++;
      if (this.pos < s.length && (s.charCodeAt(this.pos) == 0x2b || s.charCodeAt(this.pos) == 0x2d)) this.pos++;
      const expStart = this.pos;
      while (this.pos < s.length && isDigit(s.charCodeAt(this.pos))) this.pos++;
      if (this.pos == expStart) return this.fail("bad number");
    }
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.num = parseFloat(s.substring(start, this.pos));
    return v;
  }
}

function isDigit(c: i32): bool { return c >= 0x30 && c <= 0x39; }

function parseHex4(s: string, at: i32): i32 {
  let code = 0;
  for (let i = 0; i < 4; i++) {
    const c = s.charCodeAt(at + i);
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
    else return -1;
    code = (code << 4) | d;
  }
  return code;
}

function boolValue(b: bool): JsonValue {
  const v = new JsonValue();
  v.kind = JsonKind.Bool;
  v.bool = b;
  return v;
}

/** A parsed document: its value, or null and the syntax error. */
export class JsonDocument {
  constructor(readonly value: JsonValue | null, readonly error: string) {}
}

/** Reads a whole JSON document; a syntax error or trailing data gives no value and says where. */
export function readJson(text: string): JsonDocument {
  const r = new Reader(text);
  let v = r.value(0);
  if (v != null) {
    r.skipSpace();
    if (r.pos != text.length) v = r.fail("unexpected data after the document");
  }
  return new JsonDocument(v, r.error);
}

/** The value of a whole JSON document, or null when it is not one. */
export function parseJson(text: string): JsonValue | null {
  return readJson(text).value;
}

/** One member of a JSON object: `name`'s string literal, a colon, and `value` (JSON already). */
export function jsonField(name: string, value: string): string { return jsonString(name) + ":" + value; }

/** A JSON string literal (quotes included) for `s`; linear (pieces joined once). */
export function jsonString(s: string): string {
  const parts: string[] = ["\""];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    parts.push(s.substring(start, i));
    if (c == 0x22) parts.push("\\\"");
    else if (c == 0x5c) parts.push("\\\\");
    else parts.push("\\u00" + (c < 0x10 ? "0" : "") + c.toString(16));
    start = i + 1;
  }
  parts.push(s.substring(start));
  parts.push("\"");
  return parts.join("");
}
