// Per-key daily quotas (rpd, tpd), counted across every VM of the process: one shared record holds
// what each key has used of its day, and a VM leases a small part of what is left (one CAS write)
// and spends it locally, as the minute budgets do. A day starts at dailyResetUtcHour; what a VM
// still holds of a past day is dropped, and the record starts each key's day afresh. With gateway
// replicas sharing the day through Redis (replica/daily_feed.ts), the process spends only up to
// the allowance its last sync gave it.
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { KeyOptions } from "../config/config";
import { DAILY_RECORD } from "../base/shared_record";
import { DayUse, decodeUses, encodeUses, useOf } from "./day_record";

const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_HOUR: i64 = 3_600_000;
/** A VM leases at most this share of a key's day at a time: what it may hold unspent when the day ends. */
const LEASE_DIVISOR: i64 = 100;

/** The day `now` (ms) falls in, days starting at `resetHour` UTC. */
export function dayOf(now: i64, resetHour: i32): i64 {
  const t = now - <i64>resetHour * MS_PER_HOUR;
  return t >= 0 ? t / MS_PER_DAY : (t - MS_PER_DAY + 1) / MS_PER_DAY;
}

/** When day `day` ends (ms): the next reset. */
export function dayEnd(day: i64, resetHour: i32): i64 {
  return (day + 1) * MS_PER_DAY + <i64>resetHour * MS_PER_HOUR;
}

/**
 * With replicas: a key whose allowance is used up, while the day is not, is asked again after
 * this long (the next sync brings a new allowance).
 */
export const ALLOWANCE_WAIT_MS: i64 = 1000;

/** A lease's part of a quota `cap`: a hundredth, at least one. */
export function partOf(cap: i64): i64 { return max<i64>(1, cap / LEASE_DIVISOR); }

export class DailyQuotas {
  /** Whether any key has a daily quota. */
  readonly active: bool;
  readonly rpd: i64[] = [];
  readonly tpd: i64[] = [];
  private key: ArrayBuffer;
  /** Leased to this VM for the day `leaseDay[i]` and not spent yet. */
  private requestsLeft: i64[] = [];
  private tokensLeft: i64[] = [];
  private leaseDay: i64[] = [];
  /** Key i's day is known spent until then (ms; 0: not known). */
  private spentUntil: i64[] = [];

  /** `shared`: gateway replicas share the days through Redis; a day starts with a lease's part until a sync. */
  constructor(prefix: string, keys: KeyOptions[], private ids: u64[], private resetHour: i32, readonly shared: bool) {
    this.key = String.UTF8.encode(prefix + ":daily");
    let active = false;
    for (let i = 0; i < keys.length; i++) {
      this.rpd.push(keys[i].rpd);
      this.tpd.push(keys[i].tpd);
      if (keys[i].rpd > 0 || keys[i].tpd > 0) active = true;
    }
    this.active = active;
    const n = keys.length;
    this.requestsLeft = new Array<i64>(n).fill(0);
    this.tokensLeft = new Array<i64>(n).fill(0);
    this.leaseDay = new Array<i64>(n).fill(-1);
    this.spentUntil = new Array<i64>(n).fill(0);
  }

  /** Whether key i's day is known spent at `now`. */
  isSpent(i: i32, now: i64): bool { return this.spentUntil[i] > now; }

  /** Until when key i's day was last found spent (its next reset; 0: never found). */
  spentUntilOf(i: i32): i64 { return this.spentUntil[i]; }

  /** Takes one request and `tokens` (an estimate) of key i's day; false when the day has not that much left. */
  take(i: i32, tokens: i64, now: i64): bool {
    if (this.rpd[i] == 0 && this.tpd[i] == 0) return true;
    if (this.spentUntil[i] > now) return false;
    const day = dayOf(now, this.resetHour);
    if (this.leaseDay[i] != day) {
      this.leaseDay[i] = day;
      this.requestsLeft[i] = 0;
      this.tokensLeft[i] = 0;
    }
    const needRequest = this.rpd[i] > 0 && this.requestsLeft[i] < 1;
    const needTokens = this.tpd[i] > 0 && this.tokensLeft[i] < tokens ? tokens - this.tokensLeft[i] : 0;
    if ((needRequest || needTokens > 0) && !this.lease(i, day, needRequest, needTokens, now)) return false;
    if (this.rpd[i] > 0) this.requestsLeft[i]--;
    if (this.tpd[i] > 0) this.tokensLeft[i] -= tokens;
    return true;
  }

  /** Gives back what take() took when the request did not go after all (the minute budget refused it). */
  untake(i: i32, tokens: i64, now: i64): void {
    if (this.leaseDay[i] != dayOf(now, this.resetHour)) return;
    if (this.rpd[i] > 0) this.requestsLeft[i]++;
    if (this.tpd[i] > 0) this.tokensLeft[i] += tokens;
  }

  /** The answer used `actual` tokens where `reserved` were taken: the difference is credited or charged to the day. */
  settleTokens(i: i32, reserved: i64, actual: i64, now: i64): void {
    if (this.tpd[i] == 0 || reserved == actual) return;
    const day = dayOf(now, this.resetHour);
    if (this.leaseDay[i] != day) return;
    this.tokensLeft[i] += reserved - actual;
    const part = partOf(this.tpd[i]);
    if (this.tokensLeft[i] > part) {
      // An estimate far above the answer's usage: the excess goes back, so no VM holds much of the day.
      const back = this.tokensLeft[i] - part;
      this.tokensLeft[i] = part;
      compareAndSwap(this.key, new DayCharge(this, i, day, -back));
      return;
    }
    if (this.tokensLeft[i] >= 0) return;
    // Used more than leased: a new lease covers it (a write per lease, not per answer); when the
    // day has not that much left, the rest is charged to it at once, so every VM sees it.
    const debt = -this.tokensLeft[i];
    this.tokensLeft[i] = 0;
    if (this.lease(i, day, false, debt, now)) this.tokensLeft[i] -= debt;
    else compareAndSwap(this.key, new DayCharge(this, i, day, debt));
  }

  // Leases what key i needs of day `day` (and a small part more); false when the day has not enough left.
  private lease(i: i32, day: i64, needRequest: bool, needTokens: i64, now: i64): bool {
    const grant = new DayGrant(this, i, day, needRequest, needTokens);
    if (compareAndSwap(this.key, grant) != CasOutcome.Stored) {
      if (grant.spent) this.spentUntil[i] = dayEnd(day, this.resetHour);
      else if (grant.waits) this.spentUntil[i] = now + ALLOWANCE_WAIT_MS;
      return false;
    }
    this.requestsLeft[i] += grant.requests;
    this.tokensLeft[i] += grant.tokens;
    return true;
  }

  /** What each key has left of today (requests, tokens; -1 where it has no such quota), from one shared-data read. */
  snapshot(now: i64): i64[][] {
    const uses = decodeUses(DAILY_RECORD.decode(readShared(this.key)));
    const day = dayOf(now, this.resetHour);
    const out = new Array<i64[]>(this.ids.length);
    for (let i = 0; i < this.ids.length; i++) {
      const u = this.useIn(uses, i, day);
      out[i] = [this.rpd[i] > 0 ? max<i64>(0, this.rpd[i] - u.requests - u.othersRequests) : -1,
        this.tpd[i] > 0 ? max<i64>(0, this.tpd[i] - u.tokens - u.othersTokens) : -1];
    }
    return out;
  }

  /** Key i's use of `day` among `uses` (added, or started over, when missing or of a past day). */
  useIn(uses: DayUse[], i: i32, day: i64): DayUse {
    const shared = this.shared;
    return useOf(uses, this.ids[i], day, shared ? partOf(this.rpd[i]) : -1, shared ? partOf(this.tpd[i]) : -1);
  }

  /** The shared record's key. */
  get recordKey(): ArrayBuffer { return this.key; }

  /** The day `now` falls in. */
  today(now: i64): i64 { return dayOf(now, this.resetHour); }

  /** The index of the key (or group) with id `id`, -1 when none. */
  indexOf(id: u64): i32 { return this.ids.indexOf(id); }
}

/**
 * A lease of key i's day: the request and tokens needed, and up to a hundredth of the day more,
 * never past what is left (of the process's allowance, with replicas); none when the day has not
 * what is needed (`spent`), or only the allowance has not (`waits`: the next sync gives more).
 */
class DayGrant extends SharedUpdate {
  requests: i64 = 0;
  tokens: i64 = 0;
  spent: bool = false;
  waits: bool = false;
  constructor(private quotas: DailyQuotas, private i: i32, private day: i64, private needRequest: bool, private needTokens: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const uses = decodeUses(DAILY_RECORD.decode(current));
    const u = this.quotas.useIn(uses, this.i, this.day);
    const rpd = this.quotas.rpd[this.i], tpd = this.quotas.tpd[this.i];
    this.requests = 0;
    this.tokens = 0;
    this.spent = false;
    this.waits = false;
    if (this.needRequest) {
      const dayLeft = rpd - u.othersRequests - u.requests;
      const left = this.quotas.shared && u.allowRequests >= 0 ? min(dayLeft, u.allowRequests - u.requests) : dayLeft;
      if (left < 1) return this.refuse(dayLeft < 1);
      this.requests = min(left, partOf(rpd));
    }
    if (this.needTokens > 0) {
      const dayLeft = tpd - u.othersTokens - u.tokens;
      const left = this.quotas.shared && u.allowTokens >= 0 ? min(dayLeft, u.allowTokens - u.tokens) : dayLeft;
      // One request larger than what is left is refused alone; the day is spent only when less
      // than a lease's part of it is left, so no single request takes a key away until the reset.
      if (left < this.needTokens) return this.refuse(dayLeft < partOf(tpd), left < dayLeft && left < partOf(tpd));
      this.tokens = min(left, max(this.needTokens, partOf(tpd)));
    }
    u.requests += this.requests;
    u.tokens += this.tokens;
    return encodeUses(uses);
  }

  // No lease: the day is spent, or (`allowance`) only this process's allowance is used up (less
  // than a lease's part left of it); else this request alone is refused.
  private refuse(spent: bool, allowance: bool = true): ArrayBuffer | null {
    this.requests = 0;
    this.tokens = 0;
    this.spent = spent;
    this.waits = !spent && allowance && this.quotas.shared;
    return null;
  }
}

/** Charges key i's day with tokens used beyond what was leased (negative: gives unused ones back). */
class DayCharge extends SharedUpdate {
  constructor(private quotas: DailyQuotas, private i: i32, private day: i64, private tokens: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const uses = decodeUses(DAILY_RECORD.decode(current));
    const u = this.quotas.useIn(uses, this.i, this.day);
    u.tokens = max<i64>(0, u.tokens + this.tokens);
    return encodeUses(uses);
  }
}
