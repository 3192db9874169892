// Per-key budgets (rpm, tpm) held across every VM of the process without a shared-data write per
// request: the budget of each key is a token bucket in one shared record, and a VM leases a chunk
// of it (one CAS write) and spends the chunk locally. A later queue or a budget shared between
// gateway replicas builds on the same two operations: lease from a bucket, spend locally.
import { Status } from "../abi/enums";
import { getShared, lastCas, setShared } from "../runtime/shared_data";
import { KeyOptions } from "./config";
import { KeyChooser } from "./key_choice";
import { FULL_RATE } from "./pool_state";

/** A VM leases this much of a key's rate at a time (ms of it): writes per request ≈ 1 / lease. */
export const LEASE_MS: i64 = 1000;
/** A request's completion (`max_tokens`) counts for at most this share of the key's token bucket before the answer says. */
export const COMPLETION_SHARE_DIVISOR: i64 = 8;
/** In a snapshot: the key has no such budget. */
export const NO_BUDGET_LEVEL: i64 = i64.MIN_VALUE;
const MAX_CAS_RETRIES = 16;
const MS_PER_MINUTE: f64 = 60_000;

/** One key's buckets as stored: levels at `at` (ms); requests in thousandths. */
class Bucket {
  constructor(public id: u64, public requests: i64, public tokens: i64, public at: i64) {}
}

/** A key's rates at its AIMD share, and the size of its buckets. */
class Rates {
  /** Thousandths of a request per ms. */
  requests: f64;
  /** Tokens per ms. */
  tokens: f64;
  requestCap: i64;
  tokenCap: i64;

  // A bucket holds the key's whole minute (as OpenAI and Anthropic describe their limits), or
  // `burst` requests for providers that enforce shorter windows.
  constructor(rpm: i64, tpm: i64, burst: i64, factor: i32) {
    const scale = <f64>factor / <f64>FULL_RATE;
    this.requests = <f64>rpm * 1000 * scale / MS_PER_MINUTE;
    this.tokens = <f64>tpm * scale / MS_PER_MINUTE;
    const requestCap = burst > 0 ? min(burst, rpm) : rpm;
    this.requestCap = max<i64>(1000, <i64>(<f64>requestCap * 1000 * scale));
    this.tokenCap = max<i64>(1, <i64>(<f64>tpm * scale));
  }

  /** Key `id`'s bucket among `buckets`, refilled to `now`; a key seen for the first time starts full. */
  bucketOf(buckets: Bucket[], id: u64, now: i64): Bucket {
    let b: Bucket | null = null;
    for (let k = 0; k < buckets.length; k++) if (buckets[k].id == id) b = buckets[k];
    if (b == null) {
      b = new Bucket(id, this.requestCap, this.tokenCap, now);
      buckets.push(b);
    }
    const dt = <f64>max<i64>(0, now - b.at);
    b.requests = min(this.requestCap, b.requests + <i64>(this.requests * dt));
    b.tokens = min(this.tokenCap, b.tokens + <i64>(this.tokens * dt));
    b.at = now;
    return b;
  }
}

function encode(buckets: Bucket[]): string {
  const parts = new Array<string>(buckets.length);
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i];
    parts[i] = b.id.toString(16) + "," + b.requests.toString() + "," + b.tokens.toString() + "," + b.at.toString();
  }
  return parts.join(";");
}

function decode(s: string): Bucket[] {
  const out: Bucket[] = [];
  if (s.length == 0) return out;
  const entries = s.split(";");
  for (let i = 0; i < entries.length; i++) {
    const f = entries[i].split(",");
    if (f.length != 4) continue;
    out.push(new Bucket(U64.parseInt(f[0], 16), I64.parseInt(f[1]), I64.parseInt(f[2]), I64.parseInt(f[3])));
  }
  return out;
}

/** This VM's view of the budgets of one configuration. */
export class Budgets {
  /** Whether any key has a budget. */
  readonly active: bool;
  /** Whether any key has a token budget (then requests are estimated from their body). */
  readonly countsTokens: bool;
  private key: ArrayBuffer;
  private rpm: i64[] = [];
  private tpm: i64[] = [];
  private burst: i64[] = [];
  /**
   * What the provider last reported left for key i (its rate-limit headers), less what this VM
   * sent since; -1: no report. While it reports room, the local estimate never refuses.
   */
  private reportedRequests: i64[] = [];
  private reportedTokens: i64[] = [];
  /** Requests (thousandths) and tokens leased to this VM and not spent yet. */
  private requestsLeft: i64[] = [];
  private tokensLeft: i64[] = [];
  /** The shared bucket had too little for key i until then (ms); no lease is tried before. */
  private emptyUntil: i64[] = [];

  constructor(prefix: string, keys: KeyOptions[], public ids: u64[]) {
    this.key = String.UTF8.encode(prefix + ":budget");
    let active = false, tokens = false;
    for (let i = 0; i < keys.length; i++) {
      this.rpm.push(keys[i].rpm);
      this.tpm.push(keys[i].tpm);
      this.burst.push(keys[i].burst);
      if (keys[i].rpm > 0 || keys[i].tpm > 0) active = true;
      if (keys[i].tpm > 0) tokens = true;
    }
    this.active = active;
    this.countsTokens = tokens;
    this.requestsLeft = new Array<i64>(keys.length).fill(0);
    this.tokensLeft = new Array<i64>(keys.length).fill(0);
    this.emptyUntil = new Array<i64>(keys.length).fill(0);
    this.reportedRequests = new Array<i64>(keys.length).fill(-1);
    this.reportedTokens = new Array<i64>(keys.length).fill(-1);
  }

  private rates(i: i32, factor: i32): Rates {
    return new Rates(this.rpm[i], this.tpm[i], this.burst[i], factor);
  }

  /** The provider's own count of what key i has left (-1: not reported): it wins over the local estimate. */
  report(i: i32, requests: i64, tokens: i64): void {
    if (requests >= 0) this.reportedRequests[i] = requests;
    if (tokens >= 0) this.reportedTokens[i] = tokens;
  }

  // Whether the provider's last report leaves room for one request of `tokens` on key i.
  private providerAllows(i: i32, tokens: i64): bool {
    const req = this.reportedRequests[i], tok = this.reportedTokens[i];
    if (this.rpm[i] > 0 && req <= 0) return false;
    if (this.tpm[i] > 0 && tok < max<i64>(1, tokens)) return false;
    return true;
  }

  /**
   * What a request counts against key i's token budget before the answer says: its prompt, plus
   * its completion (`max_tokens`) up to an eighth of the bucket, the whole at most the bucket.
   * A request cannot lock a budget by asking for a huge completion.
   */
  estimateFor(i: i32, prompt: i64, completion: i64, factor: i32): i64 {
    if (this.tpm[i] == 0) return 0;
    const cap = this.rates(i, factor).tokenCap;
    return min(cap, prompt + min(completion, max<i64>(1, cap / COMPLETION_SHARE_DIVISOR)));
  }

  /** Whether key i is known to have no budget at `now` (no lease is tried for it before then). */
  isEmpty(i: i32, now: i64): bool {
    return this.emptyUntil[i] > now && !this.covers(i, 0) && !this.providerAllows(i, 0);
  }

  /** When key i may have budget again (0: it may now). */
  emptyUntilOf(i: i32): i64 { return this.emptyUntil[i]; }

  /** Keys known to have no budget at `now`, or null when there is none. */
  emptyKeys(now: i64): i32[] | null {
    let out: i32[] | null = null;
    for (let i = 0; i < this.emptyUntil.length; i++) {
      if (!this.isEmpty(i, now)) continue;
      if (out == null) out = [];
      out.push(i);
    }
    return out;
  }

  /** The earliest time a key serving `model` may have budget again (0: none is known to be empty). */
  earliestFor(chooser: KeyChooser, model: string | null): i64 {
    let best: i64 = 0;
    for (let i = 0; i < this.emptyUntil.length; i++) {
      const at = this.emptyUntil[i];
      if (at > 0 && chooser.serves(i, model) && (best == 0 || at < best)) best = at;
    }
    return best;
  }

  // Whether the local lease covers one request and `tokens`.
  private covers(i: i32, tokens: i64): bool {
    return (this.rpm[i] == 0 || this.requestsLeft[i] >= 1000) && (this.tpm[i] == 0 || this.tokensLeft[i] >= tokens);
  }

  /**
   * Spends one request and `tokens` (an estimate) of key i, leasing from the shared bucket when
   * the local lease does not cover them; false when the key has no budget now. `factor` is the
   * key's AIMD share (thousandths) scaling its rates.
   */
  take(i: i32, tokens: i64, factor: i32, now: i64): bool {
    if (this.rpm[i] == 0 && this.tpm[i] == 0) return true;
    const allowed = this.providerAllows(i, tokens);
    if (this.reportedRequests[i] > 0) this.reportedRequests[i]--;
    if (this.reportedTokens[i] > 0) this.reportedTokens[i] = max<i64>(0, this.reportedTokens[i] - tokens);
    if (!this.covers(i, tokens)) {
      // The local bucket is still spent when it can be, so it stays close to the provider's.
      const leased = this.emptyUntil[i] <= now && this.lease(i, tokens, factor, now);
      if (!leased) return allowed;
    }
    if (this.rpm[i] > 0) this.requestsLeft[i] -= 1000;
    if (this.tpm[i] > 0) this.tokensLeft[i] -= tokens;
    return true;
  }

  /**
   * Once the real usage of a request is known (`actual`; 0 for a refused request), the local lease
   * is corrected by the difference with what was `reserved`; credit beyond one lease goes back to
   * the shared bucket (a write only after a large over-estimate), so no VM keeps a large grant.
   */
  settleTokens(i: i32, reserved: i64, actual: i64, factor: i32, now: i64): void {
    if (this.tpm[i] == 0) return;
    this.tokensLeft[i] += reserved - actual;
    const rates = this.rates(i, factor);
    const keep = max<i64>(1, <i64>(rates.tokens * <f64>LEASE_MS));
    if (this.tokensLeft[i] <= keep) return;
    const back = this.tokensLeft[i] - keep;
    this.tokensLeft[i] = keep;
    this.giveBack(i, back, rates, now);
  }

  // Returns tokens to key i's shared bucket (never above its capacity).
  private giveBack(i: i32, tokens: i64, rates: Rates, now: i64): void {
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const v = getShared(this.key);
      if (v == null) return;
      const cas = lastCas;
      const buckets = decode(String.UTF8.decode(v));
      const b = rates.bucketOf(buckets, this.ids[i], now);
      b.tokens = min(rates.tokenCap, b.tokens + tokens);
      const status = setShared(this.key, String.UTF8.encode(encode(buckets)), cas);
      if (status == Status.Ok) {
        this.emptyUntil[i] = 0;
        return;
      }
      if (status != Status.CasMismatch) return;
    }
  }

  // Leases at least one request (and the tokens needed) from key i's shared bucket.
  private lease(i: i32, tokens: i64, factor: i32, now: i64): bool {
    const rates = this.rates(i, factor);
    const reqRate = rates.requests, tokRate = rates.tokens, tokCap = rates.tokenCap;
    const needReq = this.rpm[i] > 0 && this.requestsLeft[i] < 1000;
    const needTok = this.tpm[i] > 0 && this.tokensLeft[i] < tokens;
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const v = getShared(this.key);
      const cas = v == null ? 0xffffffff : lastCas;
      const buckets = v != null ? decode(String.UTF8.decode(v)) : [];
      const b = rates.bucketOf(buckets, this.ids[i], now);
      let grantReq: i64 = 0, grantTok: i64 = 0;
      if (needReq) {
        if (b.requests < 1000) return this.markEmpty(i, now, <f64>(<i64>1000 - b.requests) / reqRate);
        grantReq = min(b.requests, max<i64>(1000, <i64>(reqRate * <f64>LEASE_MS)));
        grantReq -= grantReq % 1000;
      }
      if (needTok) {
        const want = tokens - this.tokensLeft[i];
        // An estimate is at most the bucket (estimateFor), so a full bucket always serves it;
        // a level below zero comes only from answers that used more than estimated.
        const enough = b.tokens >= min(want, tokCap);
        if (!enough) return this.markEmpty(i, now, <f64>(min<i64>(want, tokCap) - b.tokens) / tokRate);
        grantTok = max(want, min(b.tokens, <i64>(tokRate * <f64>LEASE_MS)));
      }
      b.requests -= grantReq;
      b.tokens -= grantTok;
      const status = setShared(this.key, String.UTF8.encode(encode(buckets)), cas);
      if (status == Status.Ok) {
        this.requestsLeft[i] += grantReq;
        this.tokensLeft[i] += grantTok;
        this.emptyUntil[i] = 0;
        return true;
      }
      if (status != Status.CasMismatch) return false;
    }
    return false;
  }

  /**
   * What each key's shared bucket holds at `now` (whole requests, tokens), by configured index:
   * one shared-data read, for the status endpoint and the gauges. NO_BUDGET_LEVEL where a key has
   * no such budget; a level may be below zero (answers used more than estimated).
   */
  snapshot(now: i64, factors: i32[] | null): i64[][] {
    const v = getShared(this.key);
    const buckets = v != null ? decode(String.UTF8.decode(v)) : [];
    const out = new Array<i64[]>(this.ids.length);
    for (let i = 0; i < this.ids.length; i++) {
      const rates = this.rates(i, factors != null ? factors[i] : FULL_RATE);
      const b = rates.bucketOf(buckets, this.ids[i], now);
      const req = b.requests, tok = b.tokens;
      out[i] = [this.rpm[i] > 0 ? req / 1000 : NO_BUDGET_LEVEL, this.tpm[i] > 0 ? tok : NO_BUDGET_LEVEL];
    }
    return out;
  }

  private markEmpty(i: i32, now: i64, waitMs: f64): bool {
    this.emptyUntil[i] = now + max<i64>(1, <i64>Math.ceil(waitMs));
    return false;
  }
}
