// Budgets (rpm, tpm, and the daily rpd, tpd of daily_quota.ts) held across every VM of the process
// without a shared-data write per request: each budget is a token bucket in one shared record, and
// a VM leases a chunk of it (one CAS write) and spends the chunk locally. The budgets are the keys'
// and, after them, the account groups' (provider.groups): a key's request needs room in both. The
// replicas' budget feed builds on the same two operations: lease from a bucket, spend locally.
import { CasOutcome, compareAndSwap } from "../../runtime/shared_data";
import { COMPLETION_SHARE_DIVISOR, LEASE_MS, Rates } from "./budget_bucket";
import { KeyOptions, PluginConfig } from "../config/config";
import { hash64 } from "../../util/fingerprint";
import { FULL_RATE } from "../base/rates";
import { DailyQuotas } from "./daily_quota";
import { BucketLimits, GiveBack, Grant } from "./budget_updates";
import { ProviderReports } from "./provider_reports";

/**
 * This VM's view of the budgets of one configuration, by entry: the keys' (0 to keyCount - 1), then
 * the groups'. `groupOf[i]` is key i's group entry (-1: none).
 */
export class Budgets {
  /** Whether any key or group has a budget. */
  readonly active: bool;
  /** Whether any key has a token budget (then requests are estimated from their body). */
  readonly countsTokens: bool;
  readonly key: ArrayBuffer;
  readonly rpm: i64[] = [];
  readonly tpm: i64[] = [];
  readonly burst: i64[] = [];
  private reports: ProviderReports;
  /** Requests (thousandths) and tokens leased to this VM and not spent yet. */
  private requestsLeft: i64[] = [];
  private tokensLeft: i64[] = [];
  /** The shared bucket had too little for key i until then (ms); no lease is tried before. */
  private emptyUntil: i64[] = [];
  readonly daily: DailyQuotas;

  constructor(prefix: string, keys: KeyOptions[], public ids: u64[], dailyResetUtcHour: i32, readonly groupOf: i32[], sharedDays: bool) {
    this.key = String.UTF8.encode(prefix + ":budget");
    this.reports = new ProviderReports(keys.length);
    this.daily = new DailyQuotas(prefix, keys, ids, dailyResetUtcHour, sharedDays);
    for (let i = 0; i < keys.length; i++) {
      this.rpm.push(keys[i].rpm);
      this.tpm.push(keys[i].tpm);
      this.burst.push(keys[i].burst);
    }
    this.active = keys.some((k: KeyOptions) => k.rpm > 0 || k.tpm > 0 || k.rpd > 0 || k.tpd > 0);
    this.countsTokens = keys.some((k: KeyOptions) => k.tpm > 0 || k.tpd > 0);
    this.requestsLeft = new Array<i64>(keys.length).fill(0);
    this.tokensLeft = new Array<i64>(keys.length).fill(0);
    this.emptyUntil = new Array<i64>(keys.length).fill(0);
  }

  get keyCount(): i32 { return this.groupOf.length; }

  /** Entry i's rates at its AIMD share `factor`, for a process that has 1/`replicas` of them. */
  rates(i: i32, factor: i32, replicas: i32 = 1): Rates {
    return new Rates(this.rpm[i], this.tpm[i], this.burst[i], factor, replicas);
  }
  private limitsOf(i: i32): BucketLimits { return new BucketLimits(this.ids[i], this.rpm[i], this.tpm[i], this.burst[i]); }

  /**
   * The provider's own count of what key i has left (-1: not reported): it wins over the local
   * estimate. It counts for the key's group too: the provider reports the account's numbers.
   */
  report(i: i32, requests: i64, tokens: i64): void {
    this.reports.set(i, requests, tokens);
    if (this.groupOf[i] >= 0) this.reports.set(this.groupOf[i], requests, tokens);
  }

  private providerAllows(i: i32, tokens: i64): bool {
    return this.reports.allows(i, tokens, this.rpm[i] > 0, this.tpm[i] > 0);
  }

  /**
   * What a request counts against key i's token budget before the answer says: its prompt, plus
   * its completion (`max_tokens`) up to an eighth of the bucket, the whole at most the bucket.
   * A request cannot lock a budget by asking for a huge completion.
   */
  estimateFor(i: i32, prompt: i64, completion: i64, factor: i32): i64 {
    // The bucket is the smallest of the key's and its group's (a minute's or a day's).
    const g = this.groupOf[i];
    const cap = smaller(this.tokenCapOf(i, factor), g >= 0 ? this.tokenCapOf(g, FULL_RATE) : 0);
    if (cap == 0) return 0;
    return min(cap, prompt + min(completion, max<i64>(1, cap / COMPLETION_SHARE_DIVISOR)));
  }

  // Entry i's smallest token bucket, its minute's or its day's (0: none).
  private tokenCapOf(i: i32, factor: i32): i64 {
    return smaller(this.tpm[i] > 0 ? this.rates(i, factor).tokenCap : 0, this.daily.tpd[i]);
  }

  /** Whether key i (or its group) is known to have no budget at `now` (no lease is tried for it before then). */
  isEmpty(i: i32, now: i64): bool {
    const g = this.groupOf[i];
    return this.entryEmpty(i, now) || (g >= 0 && this.entryEmpty(g, now));
  }

  private entryEmpty(i: i32, now: i64): bool {
    return this.daily.isSpent(i, now) || this.emptyUntil[i] > now && !this.covers(i, 0) && !this.providerAllows(i, 0);
  }

  /** When key i may have budget again, its group's too (0, or a time past: it may now). */
  emptyUntilOf(i: i32): i64 {
    const g = this.groupOf[i];
    const own = max(this.emptyUntil[i], this.daily.spentUntilOf(i));
    return g >= 0 ? max(own, max(this.emptyUntil[g], this.daily.spentUntilOf(g))) : own;
  }

  /** Keys known to have no budget at `now`, or null when there is none. */
  emptyKeys(now: i64): i32[] | null {
    let out: i32[] | null = null;
    for (let i = 0; i < this.keyCount; i++) {
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
    const own = this.takeEntry(i, tokens, factor, now);
    if (own == REFUSED) return false;
    const g = this.groupOf[i];
    if (g < 0 || this.takeEntry(g, tokens, FULL_RATE, now) != REFUSED) return true;
    this.untakeEntry(i, tokens, now, own == SPENT);
    return false;
  }

  // The day first: a request the minute then refuses gives its part of the day back.
  private takeEntry(i: i32, tokens: i64, factor: i32, now: i64): i32 {
    const daily = this.daily;
    if (!daily.take(i, tokens, now)) return REFUSED;
    const minute = this.takeMinute(i, tokens, factor, now);
    if (minute == REFUSED) daily.untake(i, tokens, now);
    return minute;
  }

  // Gives back to this VM's leases what takeEntry took (the group refused the request); `spent`: from the minute's.
  private untakeEntry(i: i32, tokens: i64, now: i64, spent: bool): void {
    this.daily.untake(i, tokens, now);
    if (spent && this.rpm[i] > 0) this.requestsLeft[i] += 1000;
    if (spent && this.tpm[i] > 0) this.tokensLeft[i] += tokens;
  }

  // SPENT from this VM's lease, ALLOWED without (no minute budget, or the provider's report), or REFUSED.
  private takeMinute(i: i32, tokens: i64, factor: i32, now: i64): i32 {
    if (this.rpm[i] == 0 && this.tpm[i] == 0) return ALLOWED;
    const allowed = this.providerAllows(i, tokens);
    this.reports.spend(i, tokens);
    // The local bucket is still spent when it can be, so it stays close to the provider's.
    if (!this.covers(i, tokens) && !(this.emptyUntil[i] <= now && this.lease(i, tokens, factor, now))) return allowed ? ALLOWED : REFUSED;
    if (this.rpm[i] > 0) this.requestsLeft[i] -= 1000;
    if (this.tpm[i] > 0) this.tokensLeft[i] -= tokens;
    return SPENT;
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
    this.settleEntry(i, reserved, actual, factor, now);
    const g = this.groupOf[i];
    if (g >= 0) this.settleEntry(g, reserved, actual, FULL_RATE, now);
  }

  private settleEntry(i: i32, reserved: i64, actual: i64, factor: i32, now: i64): void {
    this.daily.settleTokens(i, reserved, actual, now);
    if (this.tpm[i] == 0) return;
    this.tokensLeft[i] += reserved - actual;
    if (this.tokensLeft[i] < 0) {
      const debt = -this.tokensLeft[i];
      this.tokensLeft[i] = 0;
      if (compareAndSwap(this.key, new GiveBack(this.limitsOf(i), factor, -debt, now)) == CasOutcome.Stored) this.emptyUntil[i] = 0;
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
    if (compareAndSwap(this.key, new GiveBack(this.limitsOf(i), factor, tokens, now)) == CasOutcome.Stored) this.emptyUntil[i] = 0;
  }

  // Leases at least one request (and the tokens needed) from key i's shared bucket.
  private lease(i: i32, tokens: i64, factor: i32, now: i64): bool {
    const needReq = this.rpm[i] > 0 && this.requestsLeft[i] < 1000;
    const want = this.tpm[i] > 0 && this.tokensLeft[i] < tokens ? tokens - this.tokensLeft[i] : 0;
    const grant = new Grant(this.limitsOf(i), factor, needReq, want, now);
    if (compareAndSwap(this.key, grant) != CasOutcome.Stored) {
      if (grant.emptyForMs >= 0) this.emptyUntil[i] = now + max<i64>(1, <i64>Math.ceil(grant.emptyForMs));
      return false;
    }
    this.requestsLeft[i] += grant.requests;
    this.tokensLeft[i] += grant.tokens;
    this.emptyUntil[i] = 0;
    return true;
  }
}

/** The budgets of `cfg`: its keys' (`ids`, by configured index), then its account groups'. */
export function budgetsOf(prefix: string, cfg: PluginConfig, ids: u64[]): Budgets {
  const n = cfg.keys.length;
  const all = ids.slice(0);
  for (let g = 0; g < cfg.groups.length; g++) all.push(hash64("group:" + cfg.groupNames[g]));
  const groupOf = new Array<i32>(n);
  for (let i = 0; i < n; i++) groupOf[i] = cfg.keys[i].group >= 0 ? n + cfg.keys[i].group : -1;
  return new Budgets(prefix, cfg.keys.concat(cfg.groups), all, cfg.dailyResetUtcHour, groupOf, cfg.redis != null);
}

/** What taking a budget entry did (Budgets.takeEntry). */
const REFUSED: i32 = 0;
const SPENT: i32 = 1;
const ALLOWED: i32 = 2;

// The smaller of two limits, 0 meaning none.
function smaller(a: i64, b: i64): i64 { return a == 0 ? b : b == 0 ? a : min(a, b); }
