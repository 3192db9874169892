// A key's budget buckets as one shared record holds them, and the rates that refill them. Pure.
import { decimalOf } from "../../util/decimal";
import { FULL_RATE } from "../base/rates";

/** A VM leases this much of a key's rate at a time (ms of it): writes per request ≈ 1 / lease. */
export const LEASE_MS: i64 = 1000;
/** A request's completion (`max_tokens`) counts for at most this share of the key's token bucket before the answer says. */
export const COMPLETION_SHARE_DIVISOR: i64 = 8;
const MS_PER_MINUTE: f64 = 60_000;

/** One key's buckets as stored: levels at `at` (ms); requests in thousandths. */
export class Bucket {
  constructor(public id: u64, public requests: i64, public tokens: i64, public at: i64) {}
}

/** A key's rates at its AIMD share, and the size of its buckets. */
export class Rates {
  /** Thousandths of a request per ms. */
  requests: f64;
  /** Tokens per ms. */
  tokens: f64;
  requestCap: i64;
  tokenCap: i64;

  // A bucket holds the key's whole minute (as OpenAI and Anthropic describe their limits), or
  // `burst` requests for providers that enforce shorter windows. A process that shares the key
  // with other gateway replicas has its share: the limit divided by the live replicas.
  constructor(rpm: i64, tpm: i64, burst: i64, factor: i32, replicas: i32 = 1) {
    const scale = <f64>factor / <f64>FULL_RATE / <f64>max(1, replicas);
    this.requests = <f64>rpm * 1000 * scale / MS_PER_MINUTE;
    this.tokens = <f64>tpm * scale / MS_PER_MINUTE;
    const requestCap = burst > 0 ? min(burst, rpm) : rpm;
    this.requestCap = max<i64>(1000, <i64>(<f64>requestCap * 1000 * scale));
    this.tokenCap = max<i64>(1, <i64>(<f64>tpm * scale));
  }

  /**
   * Key `id`'s bucket among `buckets`, refilled to `now`; a key seen for the first time starts
   * full. A bucket `fed` by Redis's grants does not refill by itself, and starts empty.
   */
  bucketOf(buckets: Bucket[], id: u64, now: i64, fed: bool = false): Bucket {
    let b: Bucket | null = null;
    for (let k = 0; k < buckets.length; k++) if (buckets[k].id == id) b = buckets[k];
    if (b == null) {
      const fresh = fed ? new Bucket(id, 0, 0, now) : new Bucket(id, this.requestCap, this.tokenCap, now);
      buckets.push(fresh);
      b = fresh;
    }
    const dt = fed ? 0.0 : <f64>max<i64>(0, now - b.at);
    b.requests = min(this.requestCap, b.requests + <i64>(this.requests * dt));
    b.tokens = min(this.tokenCap, b.tokens + <i64>(this.tokens * dt));
    b.at = now;
    return b;
  }
}

/** The process's budget record: every key's bucket, and where their credit comes from. */
export class BudgetRecord {
  buckets: Bucket[] = [];
  /** Live gateway replicas sharing the keys: this process has 1/replicas of each limit. */
  replicas: i32 = 1;
  /** Redis grants feed the buckets (no local refill), while the link to it works. */
  fed: bool = false;

  /**
   * The divisor of the key's limits for this process's buckets: its share while it refills them
   * itself; none while Redis feeds them (Redis decides who gets what, a bucket only holds it).
   */
  get divisor(): i32 { return this.fed ? 1 : this.replicas; }
}

export function encodeBudget(r: BudgetRecord): string {
  const parts: string[] = [];
  if (r.replicas != 1 || r.fed) parts.push("f," + r.replicas.toString() + "," + (r.fed ? "1" : "0"));
  for (let i = 0; i < r.buckets.length; i++) {
    const b = r.buckets[i];
    parts.push(b.id.toString(16) + "," + b.requests.toString() + "," + b.tokens.toString() + "," + b.at.toString());
  }
  return parts.join(";");
}

/** The budget record of a payload; an entry that does not read is left out. */
export function decodeBudget(s: string): BudgetRecord {
  const record = new BudgetRecord();
  const out = record.buckets;
  if (s.length == 0) return record;
  const entries = s.split(";");
  for (let i = 0; i < entries.length; i++) {
    const f = entries[i].split(",");
    if (f.length == 3 && f[0] == "f") {
      record.replicas = <i32>max<i64>(1, min<i64>(10_000, decimalOf(f[1])));
      record.fed = f[2] == "1";
      continue;
    }
    if (f.length != 4 || f[0].length == 0 || f[0].length > 16) continue;
    const requests = signedDecimal(f[1]), tokens = signedDecimal(f[2]), at = decimalOf(f[3]);
    if (requests == i64.MIN_VALUE || tokens == i64.MIN_VALUE || at < 0) continue;
    out.push(new Bucket(U64.parseInt(f[0], 16), requests, tokens, at));
  }
  return record;
}

// A level may be below zero (answers used more than estimated); i64.MIN_VALUE when malformed.
function signedDecimal(s: string): i64 {
  const negative = s.startsWith("-");
  const v = decimalOf(s, negative ? 1 : 0);
  if (v < 0) return i64.MIN_VALUE;
  return negative ? -v : v;
}
