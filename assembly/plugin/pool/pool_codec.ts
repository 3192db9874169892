// The pool record's payload (RecordCodec adds the version): one
// "id,out,failures,probeSuccesses,outSince,returnsAt,lastStatus" per token (out: 0 in, 1 out,
// 2 a suspect a probe decides on, 3 one held while its probe runs), separated by ";",
// numbers in lower-case hex, then ",limitedUntil,rateFactor" only while a key is rate-limited,
// slowed down or carries evidence, then ",failedAt,signalAt,signalKind,signalBody,signalWho,restBy"
// only while it carries evidence, then ",deadProbes,nextProbeAt" while it is dead; then "|health,since,lastStatus,rule+1,restMs,nextSendAt,grewAt"
// once the provider has left the ok state. Compact, and decoded only when the CAS value changed.
// Pure; never traps.
import { PoolState, TokenState } from "./pool_state";
import { FULL_RATE } from "../base/rates";
import { ProviderState } from "./provider_health";

/** Fields of a token: always, with its rate, with its evidence. */
const BASE_FIELDS = 7;
const RATE_FIELDS = 9;
const ALL_FIELDS = 15;
const DEAD_FIELDS = 17;
const PROVIDER_FIELDS = 7;

function hex(v: i64): string { return v.toString(16); }

/** Encodes a pool state. */
export function encodePool(p: PoolState): string {
  const parts = new Array<string>(p.tokens.length);
  for (let i = 0; i < p.tokens.length; i++) {
    const t = p.tokens[i];
    let s = t.id.toString(16) + "," + (t.out ? "1" : t.suspect ? (t.held ? "3" : "2") : "0") + "," + hex(t.failures) + "," +
      hex(t.probeSuccesses) + "," + hex(t.outSince) + "," + hex(t.returnsAt) + "," + hex(t.lastStatus);
    // A dead key's probe pace goes after its evidence fields, which it then always carries.
    const evidence = t.hasEvidence || t.dead;
    if (evidence || t.limitedUntil > 0 || t.rateFactor != FULL_RATE) s += "," + hex(t.limitedUntil) + "," + hex(t.rateFactor);
    if (evidence) {
      s += "," + hex(t.failedAt) + "," + hex(t.signalAt) + "," + hex(t.signalKind) + "," + hex(<i64>t.signalBody) + "," +
        hex(<i64>t.signalWho) + "," + hex(<i64>t.restBy);
    }
    if (t.dead) s += "," + hex(t.deadProbes) + "," + hex(t.nextProbeAt);
    parts[i] = s;
  }
  const pr = p.provider;
  const tail = pr.ok && pr.since == 0 ? "" : "|" + hex(<i32>pr.health) + "," + hex(pr.since) + "," + hex(pr.lastStatus) + "," +
    hex(pr.rule + 1) + "," + hex(pr.restMs) + "," + hex(pr.nextSendAt) + "," + hex(pr.grewAt);
  return parts.join(";") + tail;
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

// Reads up to `fields.length` comma-separated hex numbers from `pos` to the first `stop`
// character (or the end); the first may use all 64 bits. Returns the count read and the end
// (count | end << 8), or -1 when malformed.
function readFields(s: string, pos: i32, end: i32, fields: StaticArray<i64>): i64 {
  let n = 0;
  let at = pos;
  while (true) {
    if (n >= fields.length) return -1;
    let stop = at;
    while (stop < end && s.charCodeAt(stop) != 0x2c) stop++;
    if (stop <= at || stop - at > 16) return -1;
    if (n == 0) {
      // The id uses all 64 bits, so it is parsed apart from the -1 error value.
      const hi = stop - at > 8 ? parseHex(s, at, stop - 8) : 0;
      const lo = parseHex(s, stop - at > 8 ? stop - 8 : at, stop);
      if (hi < 0 || lo < 0) return -1;
      fields[0] = <i64>((<u64>hi << 32) | <u64>lo);
    } else {
      const v = parseHex(s, at, stop);
      if (v < 0) return -1;
      fields[n] = v;
    }
    n++;
    if (stop >= end) return n;
    at = stop + 1;
  }
}

function decodeToken(f: StaticArray<i64>, n: i32): TokenState | null {
  if (n != BASE_FIELDS && n != RATE_FIELDS && n != ALL_FIELDS && n != DEAD_FIELDS) return null;
  if (f[1] > 3) return null;
  const t = new TokenState();
  t.id = <u64>f[0];
  t.out = f[1] == 1;
  t.suspect = f[1] >= 2;
  t.held = f[1] == 3;
  t.failures = <i32>f[2];
  t.probeSuccesses = <i32>f[3];
  t.outSince = f[4];
  t.returnsAt = f[5];
  t.lastStatus = <i32>f[6];
  if (n >= RATE_FIELDS) {
    t.limitedUntil = f[7];
    if (f[8] < 1 || f[8] > FULL_RATE) return null;
    t.rateFactor = <i32>f[8];
  }
  if (n >= ALL_FIELDS) {
    t.failedAt = f[9];
    t.signalAt = f[10];
    if (f[11] > 2 || f[12] > 0xffffffff || f[13] > 0xffffffff || f[14] > 0xffffffff) return null;
    t.signalKind = <i32>f[11];
    t.signalBody = <u32>f[12];
    t.signalWho = <u32>f[13];
    t.restBy = <u32>f[14];
  }
  if (n == DEAD_FIELDS) {
    if (!t.out || f[15] > 0xffff) return null;
    t.dead = true;
    t.deadProbes = <i32>f[15];
    t.nextProbeAt = f[16];
  }
  return t;
}

function decodeProvider(f: StaticArray<i64>, n: i32): ProviderState | null {
  if (n != PROVIDER_FIELDS || f[0] > 2 || f[3] > 0xffff) return null;
  const p = new ProviderState();
  p.health = <i32>f[0];
  p.since = f[1];
  p.lastStatus = <i32>f[2];
  p.rule = <i32>f[3] - 1;
  p.restMs = f[4];
  p.nextSendAt = f[5];
  p.grewAt = f[6];
  return p;
}

/** Decodes a pool state; null for anything malformed (never traps). */
export function decodePool(s: string): PoolState | null {
  const p = new PoolState();
  const fields = new StaticArray<i64>(DEAD_FIELDS);
  const bar = s.indexOf("|");
  const end = bar < 0 ? s.length : bar;
  let pos = 0;
  while (pos < end) {
    let stop = pos;
    while (stop < end && s.charCodeAt(stop) != 0x3b) stop++;
    const n = <i32>readFields(s, pos, stop, fields);
    if (n < 0) return null;
    const t = decodeToken(fields, n);
    if (t == null) return null;
    p.tokens.push(t);
    pos = stop + 1;
    if (stop < end && pos >= end) return null;
  }
  if (bar >= 0) {
    const n = <i32>readFields(s, bar + 1, s.length, fields);
    if (n < 0) return null;
    const provider = decodeProvider(fields, n);
    if (provider == null) return null;
    p.provider = provider;
  }
  return p;
}
