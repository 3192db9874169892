// What a sync brings back from Redis, and how the pool record adopts the shared key states. Pure.
import { RespKind, RespValue } from "../../util/resp";
import { PoolChange, PoolState } from "../pool/pool_state";

/** One key's state as Redis holds it. */
export class SharedKey {
  constructor(public id: u64, public version: i64, public out: bool, public returnsAt: i64, public limitedUntil: i64,
              public share: i32, public memberAt: i64, public status: i32) {}
}

/** What Redis granted this process from one key's budget (requests in thousandths). */
export class BudgetGrant {
  constructor(public id: u64, public requests: i64, public tokens: i64) {}
}

/** What every replica used of one key's day, as Redis counts it. */
export class DayTotal {
  constructor(public id: u64, public day: i64, public requests: i64, public tokens: i64) {}
}

export class SyncReply {
  holdsLease: bool = false;
  liveReplicas: i32 = 1;
  grants: BudgetGrant[] = [];
  keys: SharedKey[] = [];
  days: DayTotal[] = [];
}

/** The reply of a sync, or null when it is not one (a Redis error, or malformed). */
export function readSyncReply(v: RespValue): SyncReply | null {
  if (v.kind != RespKind.Array || v.items.length != 5) return null;
  const grants = v.items[2], keys = v.items[3], days = v.items[4];
  if (grants.kind != RespKind.Array || keys.kind != RespKind.Array || keys.items.length % 2 != 0 || days.kind != RespKind.Array) return null;
  const out = new SyncReply();
  out.holdsLease = v.items[0].asInteger(0) == 1;
  out.liveReplicas = <i32>max<i64>(1, min<i64>(10_000, v.items[1].asInteger(1)));
  for (let i = 0; i < grants.items.length; i++) {
    const f = numbers(grants.items[i].text, 1);
    if (f == null || f.length != 2) continue;
    out.grants.push(new BudgetGrant(hexId(grants.items[i].text), max<i64>(0, f[0]), max<i64>(0, f[1])));
  }
  for (let i = 0; i < days.items.length; i++) {
    const f = numbers(days.items[i].text, 1);
    if (f == null || f.length != 3 || f[0] < 0) continue;
    out.days.push(new DayTotal(hexId(days.items[i].text), f[0], max<i64>(0, f[1]), max<i64>(0, f[2])));
  }
  for (let i = 0; i + 1 < keys.items.length; i += 2) {
    const f = numbers(keys.items[i + 1].text, 0);
    if (f == null || f.length != 8) continue;
    out.keys.push(new SharedKey(hexId(keys.items[i].text), f[0], f[1] == 1, f[2], f[3], <i32>f[4], f[5], <i32>f[7]));
  }
  return out;
}

// The hexadecimal id before the first comma.
function hexId(s: string): u64 {
  const end = s.indexOf(",");
  return U64.parseInt(end < 0 ? s : s.substring(0, end), 16);
}

// The comma-separated decimals of `s` after its first `skip` fields; null when one is not a decimal.
function numbers(s: string, skip: i32): i64[] | null {
  const parts = s.split(",");
  const out: i64[] = [];
  for (let i = skip; i < parts.length; i++) {
    const p = parts[i];
    const negative = p.startsWith("-");
    if (p.length == 0 || p.length > 19) return null;
    let v: i64 = 0;
    for (let k = negative ? 1 : 0; k < p.length; k++) {
      const d = p.charCodeAt(k) - 0x30;
      if (d < 0 || d > 9) return null;
      v = v * 10 + d;
    }
    out.push(negative ? -v : v);
  }
  return out;
}

/**
 * Takes on the shared state of keys another replica changed: membership (out since the shared
 * ejection time, or back), the return time, the later rate-limit deadline and the share.
 */
export class AdoptShared extends PoolChange {
  /** Ids this change took out of the pool and put back, for the log. */
  tookOut: u64[] = [];
  putBack: u64[] = [];
  constructor(public keys: SharedKey[], public now: i64) { super(); }

  apply(state: PoolState): bool {
    this.tookOut = [];
    this.putBack = [];
    let changed = false;
    for (let k = 0; k < this.keys.length; k++) {
      const c = this.keys[k];
      const i = state.indexOf(c.id);
      if (i < 0) continue;
      state.settleDue(i, this.now);
      const t = state.tokens[i];
      const sharedOut = c.out && (c.returnsAt == 0 || c.returnsAt > this.now);
      if (sharedOut && !t.out) {
        t.takeOut(c.memberAt, c.returnsAt);
        t.outSince = c.memberAt;
        t.returnsAt = c.returnsAt;
        t.lastStatus = c.status;
        this.tookOut.push(c.id);
        changed = true;
      } else if (!sharedOut && t.out) {
        t.putBack();
        this.putBack.push(c.id);
        changed = true;
      } else if (sharedOut && t.returnsAt != c.returnsAt) {
        t.returnsAt = c.returnsAt;
        changed = true;
      }
      if (state.limitUntil(i, c.limitedUntil)) changed = true;
      if (c.share > 0 && t.rateFactor != c.share) {
        t.rateFactor = c.share;
        changed = true;
      }
    }
    return changed;
  }
}
