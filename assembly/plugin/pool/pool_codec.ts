// The pool record's payload (RecordCodec adds the version): one
// "id,out,failures,probeSuccesses,outSince,returnsAt,lastStatus" per token (out: 0 in, 1 out,
// 2 a suspect a probe decides on, 3 one held while its probe runs), separated by ";",
// numbers in lower-case hex, then ",limitedUntil,rateFactor" only while a key is rate-limited or
// slowed down. Compact, and decoded only when the CAS value changed. Pure; never traps.
import { FULL_RATE, PoolState, TokenState } from "./pool_state";


/** Encodes a pool state. */
export function encodePool(p: PoolState): string {
  let s = "";
  for (let i = 0; i < p.tokens.length; i++) {
    const t = p.tokens[i];
    if (i > 0) s += ";";
    s += t.id.toString(16) + "," + (t.out ? "1" : t.suspect ? (t.held ? "3" : "2") : "0") + "," + t.failures.toString(16) + "," +
      t.probeSuccesses.toString(16) + "," + t.outSince.toString(16) + "," + t.returnsAt.toString(16) + "," +
      t.lastStatus.toString(16) +
      (t.limitedUntil > 0 || t.rateFactor != FULL_RATE ? "," + t.limitedUntil.toString(16) + "," + t.rateFactor.toString(16) : "");
  }
  return s;
}

function parseHex(s: string, from: i32, to: i32): i64 {
  if (to <= from || to - from > 16) return -1;
  let v: u64 = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else return -1;
    v = (v << 4) | <u64>d;
  }
  return <i64>v;
}

/** Decodes a pool state; null for anything malformed (never traps). */
export function decodePool(s: string): PoolState | null {
  const p = new PoolState();
  let pos = 0;
  const fields = new StaticArray<i64>(9);
  while (pos < s.length) {
    if (pos > 0) {
      if (s.charCodeAt(pos) != 0x3b) return null;
      pos++;
    }
    fields[7] = 0;
    fields[8] = FULL_RATE;
    for (let f = 0; f < 9; f++) {
      // The last two fields (limitedUntil, rateFactor) are present only while one is set.
      if (f == 7 && (pos >= s.length || s.charCodeAt(pos) != 0x2c)) break;
      if (f >= 7) {
        if (pos >= s.length || s.charCodeAt(pos) != 0x2c) return null;
        pos++;
      }
      let end = pos;
      while (end < s.length && s.charCodeAt(end) != 0x2c && s.charCodeAt(end) != 0x3b) end++;
      if (f == 0) {
        // The id uses all 64 bits, so it is parsed apart from the -1 error value.
        if (end <= pos || end - pos > 16) return null;
        const hi = end - pos > 8 ? parseHex(s, pos, end - 8) : 0;
        const lo = parseHex(s, end - pos > 8 ? end - 8 : pos, end);
        if (hi < 0 || lo < 0) return null;
        fields[0] = <i64>((<u64>hi << 32) | <u64>lo);
      } else {
        const v = parseHex(s, pos, end);
        if (v < 0) return null;
        fields[f] = v;
      }
      pos = end;
      if (f < 6) {
        if (pos >= s.length || s.charCodeAt(pos) != 0x2c) return null;
        pos++;
      }
    }
    const t = new TokenState();
    t.id = <u64>fields[0];
    if (fields[1] > 3) return null;
    t.out = fields[1] == 1;
    t.suspect = fields[1] >= 2;
    t.held = fields[1] == 3;
    t.failures = <i32>fields[2];
    t.probeSuccesses = <i32>fields[3];
    t.outSince = fields[4];
    t.returnsAt = fields[5];
    t.lastStatus = <i32>fields[6];
    t.limitedUntil = fields[7];
    t.rateFactor = <i32>fields[8];
    if (t.rateFactor < 1 || t.rateFactor > FULL_RATE) return null;
    p.tokens.push(t);
  }
  return p;
}
