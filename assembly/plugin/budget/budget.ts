// Per-key budgets (rpm, tpm, and the daily rpd, tpd of daily_quota.ts) held across every VM of the process without a shared-data write per
// request: the budget of each key is a token bucket in one shared record, and a VM leases a chunk
// of it (one CAS write) and spends the chunk locally. A later queue or a budget shared between
// gateway replicas builds on the same two operations: lease from a bucket, spend locally.
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { BudgetRecord, COMPLETION_SHARE_DIVISOR, LEASE_MS, Rates, decodeBudget, encodeBudget } from "./budget_bucket";
import { KeyOptions } from "../config/config";
import { FULL_RATE, NO_BUDGET_LEVEL } from "../base/rates";
import { BUDGET_RECORD } from "../base/shared_record";
import { DailyQuotas } from "./daily_quota";

/** Requests of a provider's report of what is left that this VM leaves to the other workers. */
const REPORT_RESERVE: i64 = 1;

/** This VM's view of the budgets of one configuration. */
export class Budgets {
  /** Whether any key has a budget. */
  readonly active: bool;
  /** Whether any key has a token budget (then requests are estimated from their body). */
  readonly countsTokens: bool;
  readonly key: ArrayBuffer;
  readonly rpm: i64[] = [];
  readonly tpm: i64[] = [];
  readonly burst: i64[] = [];
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
  readonly daily: DailyQuotas;

  constructor(prefix: string, keys: KeyOptions[], public ids: u64[], dailyResetUtcHour: i32) {
    this.key = String.UTF8.encode(prefix + ":budget");
    const daily = new DailyQuotas(prefix, keys, ids, dailyResetUtcHour);
    this.daily = daily;
    let active = false, tokens = false;
    for (let i = 0; i < keys.length; i++) {
      this.rpm.push(keys[i].rpm);
      this.tpm.push(keys[i].tpm);
      this.burst.push(keys[i].burst);
      if (keys[i].rpm > 0 || keys[i].tpm > 0 || keys[i].rpd > 0 || keys[i].tpd > 0) active = true;
      if (keys[i].tpm > 0 || keys[i].tpd > 0) tokens = true;
    }
    this.active = active;
    this.countsTokens = tokens;
    this.requestsLeft = new Array<i64>(keys.length).fill(0);
    this.tokensLeft = new Array<i64>(keys.length).fill(0);
    this.emptyUntil = new Array<i64>(keys.length).fill(0);
    this.reportedRequests = new Array<i64>(keys.length).fill(-1);
    this.reportedTokens = new Array<i64>(keys.length).fill(-1);
  }

  /** Key i's rates at its AIMD share `factor`, for a process that has 1/`replicas` of them. */
  rates(i: i32, factor: i32, replicas: i32 = 1): Rates {
    return new Rates(this.rpm[i], this.tpm[i], this.burst[i], factor, replicas);
  }

  /** The provider's own count of what key i has left (-1: not reported): it wins over the local estimate. */
  report(i: i32, requests: i64, tokens: i64): void {
    if (requests >= 0) this.reportedRequests[i] = requests;
    if (tokens >= 0) this.reportedTokens[i] = tokens;
  }

  // Whether the provider's last report leaves room for one request of `tokens` on key i. This VM's
  // copy of the report counts only its own requests since: another worker may have spent the last
  // request the report left, so one is kept in reserve (a report of 1 left lets nothing beyond the
  // local estimate through).
  private providerAllows(i: i32, tokens: i64): bool {
    const req = this.reportedRequests[i], tok = this.reportedTokens[i];
    if (this.rpm[i] > 0 && req <= REPORT_RESERVE) return false;
    if (this.tpm[i] > 0 && tok < max<i64>(1, tokens)) return false;
    return true;
  }

  /**
   * What a request counts against key i's token budget before the answer says: its prompt, plus
   * its completion (`max_tokens`) up to an eighth of the bucket, the whole at most the bucket.
   * A request cannot lock a budget by asking for a huge completion.
   */
  estimateFor(i: i32, prompt: i64, completion: i64, factor: i32): i64 {
    // The bucket is the minute's, or the day's for a key with only tpd.
    const cap = this.tpm[i] > 0 ? this.rates(i, factor).tokenCap : this.daily.tpd[i];
    if (cap == 0) return 0;
    return min(cap, prompt + min(completion, max<i64>(1, cap / COMPLETION_SHARE_DIVISOR)));
  }

  /** Whether key i is known to have no budget at `now` (no lease is tried for it before then). */
  isEmpty(i: i32, now: i64): bool {
    return this.daily.isSpent(i, now) || this.emptyUntil[i] > now && !this.covers(i, 0) && !this.providerAllows(i, 0);
  }

  /** When key i may have budget again (0, or a time past: it may now). */
  emptyUntilOf(i: i32): i64 { return max(this.emptyUntil[i], this.daily.spentUntilOf(i)); }

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
    // The day first: a request the minute then refuses gives its part of the day back.
    const daily = this.daily;
    if (!daily.take(i, tokens, now)) return false;
    if (this.takeMinute(i, tokens, factor, now)) return true;
    daily.untake(i, tokens, now);
    return false;
  }

  private takeMinute(i: i32, tokens: i64, factor: i32, now: i64): bool {
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
   * An answer that used more than the lease holds is charged to the shared bucket at once (down
   * to one bucket below zero), so what every VM, the status document and the gauges see is the
   * debt that refuses the next requests.
   */
  settleTokens(i: i32, reserved: i64, actual: i64, factor: i32, now: i64): void {
    this.daily.settleTokens(i, reserved, actual, now);
    if (this.tpm[i] == 0) return;
    this.tokensLeft[i] += reserved - actual;
    if (this.tokensLeft[i] < 0) {
      const debt = -this.tokensLeft[i];
      this.tokensLeft[i] = 0;
      if (compareAndSwap(this.key, new GiveBack(this, i, factor, -debt, now)) == CasOutcome.Stored) this.emptyUntil[i] = 0;
      return;
    }
    const rates = this.rates(i, factor);
    const keep = max<i64>(1, <i64>(rates.tokens * <f64>LEASE_MS));
    if (this.tokensLeft[i] <= keep) return;
    const back = this.tokensLeft[i] - keep;
    this.tokensLeft[i] = keep;
    this.giveBack(i, back, factor, now);
  }

  // Returns tokens to key i's shared bucket (never above its capacity).
  private giveBack(i: i32, tokens: i64, factor: i32, now: i64): void {
    if (compareAndSwap(this.key, new GiveBack(this, i, factor, tokens, now)) == CasOutcome.Stored) this.emptyUntil[i] = 0;
  }

  // Leases at least one request (and the tokens needed) from key i's shared bucket.
  private lease(i: i32, tokens: i64, factor: i32, now: i64): bool {
    const needReq = this.rpm[i] > 0 && this.requestsLeft[i] < 1000;
    const want = this.tpm[i] > 0 && this.tokensLeft[i] < tokens ? tokens - this.tokensLeft[i] : 0;
    const grant = new Grant(this, i, factor, needReq, want, now);
    if (compareAndSwap(this.key, grant) != CasOutcome.Stored) {
      if (grant.emptyForMs >= 0) this.emptyUntil[i] = now + max<i64>(1, <i64>Math.ceil(grant.emptyForMs));
      return false;
    }
    this.requestsLeft[i] += grant.requests;
    this.tokensLeft[i] += grant.tokens;
    this.emptyUntil[i] = 0;
    return true;
  }

  /**
   * What each key's shared bucket holds at `now` (whole requests, tokens), by configured index:
   * one shared-data read, for the status endpoint and the gauges. NO_BUDGET_LEVEL where a key has
   * no such budget; a level may be below zero (answers used more than estimated).
   */
  snapshot(now: i64, factors: i32[] | null): i64[][] {
    const record = recordOf(readShared(this.key));
    const day = this.daily.snapshot(now);
    const out = new Array<i64[]>(this.ids.length);
    for (let i = 0; i < this.ids.length; i++) {
      const rates = this.rates(i, factorAt(factors, i), record.divisor);
      const b = rates.bucketOf(record.buckets, this.ids[i], now, record.fed);
      const req = b.requests, tok = b.tokens;
      out[i] = [this.rpm[i] > 0 ? req / 1000 : NO_BUDGET_LEVEL, this.tpm[i] > 0 ? tok : NO_BUDGET_LEVEL,
        day[i][0] >= 0 ? day[i][0] : NO_BUDGET_LEVEL, day[i][1] >= 0 ? day[i][1] : NO_BUDGET_LEVEL];
    }
    return out;
  }

}

/** Key i's AIMD share among `factors` (null: every key has its full share). */
export function factorAt(factors: i32[] | null, i: i32): i32 {
  return factors != null ? factors[i] : FULL_RATE;
}

/** The budget record in shared data (an empty one when missing or unreadable). */
export function recordOf(v: SharedValue | null): BudgetRecord {
  const payload = BUDGET_RECORD.decode(v);
  return payload != null ? decodeBudget(payload) : new BudgetRecord();
}

/**
 * Credit back to one key's bucket, or a debt charged to it (negative `tokens`, down to one bucket
 * below zero); nothing when the record is missing: a new one starts full.
 */
class GiveBack extends SharedUpdate {
  constructor(private budgets: Budgets, private i: i32, private factor: i32, private tokens: i64, private now: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    if (current == null) return null;
    const record = recordOf(current);
    const rates = this.budgets.rates(this.i, this.factor, record.divisor);
    const b = rates.bucketOf(record.buckets, this.budgets.ids[this.i], this.now, record.fed);
    b.tokens = max(-rates.tokenCap, min(rates.tokenCap, b.tokens + this.tokens));
    return BUDGET_RECORD.encode(encodeBudget(record));
  }
}

/**
 * A lease from one key's bucket: a second of its rate, at least one request (`needRequest`) and
 * the `wantTokens` asked; none when the bucket has too little (`emptyForMs`: until it refills).
 */
class Grant extends SharedUpdate {
  requests: i64 = 0;
  tokens: i64 = 0;
  /** How long until the bucket has enough (-1: it had). */
  emptyForMs: f64 = -1;

  constructor(private budgets: Budgets, private i: i32, private factor: i32, private needRequest: bool, private wantTokens: i64,
              private now: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const record = recordOf(current);
    const rates = this.budgets.rates(this.i, this.factor, record.divisor);
    const b = rates.bucketOf(record.buckets, this.budgets.ids[this.i], this.now, record.fed);
    this.requests = 0;
    this.tokens = 0;
    this.emptyForMs = -1;
    if (this.needRequest) {
      if (b.requests < 1000) {
        this.emptyForMs = <f64>(<i64>1000 - b.requests) / rates.requests;
        return null;
      }
      const grant = min(b.requests, max<i64>(1000, <i64>(rates.requests * <f64>LEASE_MS)));
      this.requests = grant - grant % 1000;
    }
    const want = this.wantTokens;
    if (want > 0) {
      // An estimate is at most the bucket (estimateFor), so a full bucket always serves it;
      // a level below zero comes only from answers that used more than estimated.
      const need = min(want, rates.tokenCap);
      if (b.tokens < need) {
        this.requests = 0;
        this.emptyForMs = <f64>(need - b.tokens) / rates.tokens;
        return null;
      }
      this.tokens = max(want, min(b.tokens, <i64>(rates.tokens * <f64>LEASE_MS)));
    }
    b.requests -= this.requests;
    b.tokens -= this.tokens;
    return BUDGET_RECORD.encode(encodeBudget(record));
  }
}
