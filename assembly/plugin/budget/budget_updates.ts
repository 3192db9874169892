// The changes a VM makes to the shared budget record, each applied inside a CAS loop: a lease from
// one bucket, and credit given back or a debt charged to it.
import { SharedUpdate, SharedValue } from "../../runtime/shared_data";
import { BudgetRecord, LEASE_MS, Rates, decodeBudget, encodeBudget } from "./budget_bucket";
import { FULL_RATE } from "../base/rates";
import { BUDGET_RECORD } from "../base/shared_record";

/** One bucket's id and limits (a key's or a group's). */
export class BucketLimits {
  constructor(readonly id: u64, readonly rpm: i64, readonly tpm: i64, readonly burst: i64) {}
  rates(factor: i32, replicas: i32): Rates { return new Rates(this.rpm, this.tpm, this.burst, factor, replicas); }
}

/** Entry i's AIMD share among `factors` (null: every key has its full share; a group always has it). */
export function factorAt(factors: i32[] | null, i: i32): i32 {
  return factors != null && i < factors.length ? factors[i] : FULL_RATE;
}

/** The budget record in shared data (an empty one when missing or unreadable). */
export function recordOf(v: SharedValue | null): BudgetRecord {
  const payload = BUDGET_RECORD.decode(v);
  return payload != null ? decodeBudget(payload) : new BudgetRecord();
}

/**
 * Credit back to one bucket, or a debt charged to it (negative `tokens`, down to one bucket
 * below zero); nothing when the record is missing: a new one starts full.
 */
export class GiveBack extends SharedUpdate {
  constructor(private limits: BucketLimits, private factor: i32, private tokens: i64, private now: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    if (current == null) return null;
    const record = recordOf(current);
    const rates = this.limits.rates(this.factor, record.divisor);
    const b = rates.bucketOf(record.buckets, this.limits.id, this.now, record.fed);
    b.tokens = max(-rates.tokenCap, min(rates.tokenCap, b.tokens + this.tokens));
    return BUDGET_RECORD.encode(encodeBudget(record));
  }
}

/**
 * A lease from one bucket: a second of its rate, at least one request (`needRequest`) and the
 * `wantTokens` asked; none when the bucket has too little (`emptyForMs`: until it refills).
 */
export class Grant extends SharedUpdate {
  requests: i64 = 0;
  tokens: i64 = 0;
  /** How long until the bucket has enough (-1: it had). */
  emptyForMs: f64 = -1;

  constructor(private limits: BucketLimits, private factor: i32, private needRequest: bool, private wantTokens: i64,
              private now: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const record = recordOf(current);
    const rates = this.limits.rates(this.factor, record.divisor);
    const b = rates.bucketOf(record.buckets, this.limits.id, this.now, record.fed);
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
