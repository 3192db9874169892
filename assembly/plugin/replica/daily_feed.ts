// The daily quotas (rpd, tpd) shared by the gateway replicas through Redis: on each sync the lease
// holder reports what the process leased of each key's day so far (Redis counts the difference
// from its last report, so a report sent twice, or again after Redis lost the day, counts once),
// and Redis answers with the day's use by every replica. The process then knows what the others used, and
// may go on until the next sync up to its allowance: its share of what is left of the day. Syncs
// of the replicas do not happen together, so one replica's allowance is computed before it knows
// what another spent of its own since: each takes half its even split (what is left over twice
// the live replicas), which leaves room for what the others may still spend, so together they
// never spend more than the day but for rounding up at its very end (at most one request, or one
// request's tokens, per replica). While Redis does not answer, the allowance stays, and a day that
// starts meanwhile gets an even split of the whole day (as the minute budgets fall back to 1/N).
import { SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { DAILY_RECORD } from "../base/shared_record";
import { DailyQuotas } from "../budget/daily_quota";
import { decodeUses, encodeUses } from "../budget/day_record";
import { DayReport } from "./sync_script";
import { DayTotal } from "./sync_reply";

/** What the process leased of each key's day (today's) so far: one shared-data read. */
export function dayReports(daily: DailyQuotas, now: i64): DayReport[] {
  const out: DayReport[] = [];
  if (!daily.active) return out;
  const uses = decodeUses(DAILY_RECORD.decode(readShared(daily.recordKey)));
  const day = daily.today(now);
  for (let i = 0; i < daily.rpd.length; i++) {
    if (daily.rpd[i] == 0 && daily.tpd[i] == 0) continue;
    const u = daily.useIn(uses, i, day);
    out.push(new DayReport(u.id, day, u.requests, u.tokens));
  }
  return out;
}

/** Takes on Redis's totals for the days `sent` reported, with `replicas` live: one CAS write. */
export function adoptDayTotals(daily: DailyQuotas, totals: DayTotal[], sent: DayReport[], replicas: i32, now: i64): void {
  if (totals.length == 0) return;
  compareAndSwap(daily.recordKey, new AdoptTotals(daily, totals, sent, max(1, replicas), daily.today(now)));
}

/**
 * Redis does not answer: each key's day that started without a sync (its allowance still the
 * first lease's part) may use an even split of the whole day among the `replicas` last seen.
 * Nothing is written when no such day is there.
 */
export function daysAlone(daily: DailyQuotas, replicas: i32, now: i64): void {
  if (!daily.active) return;
  compareAndSwap(daily.recordKey, new DaysAlone(daily, max(1, replicas), daily.today(now)));
}

class DaysAlone extends SharedUpdate {
  constructor(private daily: DailyQuotas, private replicas: i32, private day: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const daily = this.daily;
    const uses = decodeUses(DAILY_RECORD.decode(current));
    let changed = false;
    for (let i = 0; i < daily.rpd.length; i++) {
      if (daily.rpd[i] == 0 && daily.tpd[i] == 0) continue;
      const u = daily.useIn(uses, i, this.day);
      if (u.reportedRequests != 0 || u.reportedTokens != 0 || u.othersRequests != 0 || u.othersTokens != 0) continue;
      const r = evenSplit(daily.rpd[i], this.replicas), t = evenSplit(daily.tpd[i], this.replicas);
      if (u.allowRequests >= r && u.allowTokens >= t) continue;
      u.allowRequests = max(u.allowRequests, r);
      u.allowTokens = max(u.allowTokens, t);
      changed = true;
    }
    return changed ? encodeUses(uses) : null;
  }
}

// A whole quota `cap` split evenly among `replicas` (0: no such quota).
function evenSplit(cap: i64, replicas: i32): i64 { return cap <= 0 ? 0 : cap / <i64>replicas; }

class AdoptTotals extends SharedUpdate {
  constructor(private daily: DailyQuotas, private totals: DayTotal[], private sent: DayReport[], private replicas: i32,
              private day: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const daily = this.daily;
    const uses = decodeUses(DAILY_RECORD.decode(current));
    for (let k = 0; k < this.totals.length; k++) {
      const t = this.totals[k];
      // A day that ended since the report starts afresh: its totals say nothing of the new one.
      const i = daily.indexOf(t.id);
      const s = sentFor(this.sent, t);
      if (i < 0 || s == null || t.day != this.day) continue;
      const u = daily.useIn(uses, i, t.day);
      u.reportedRequests = s.requests;
      u.reportedTokens = s.tokens;
      u.othersRequests = max<i64>(0, t.requests - u.reportedRequests);
      u.othersTokens = max<i64>(0, t.tokens - u.reportedTokens);
      u.allowRequests = u.reportedRequests + shareOf(daily.rpd[i] - t.requests, this.replicas);
      u.allowTokens = u.reportedTokens + shareOf(daily.tpd[i] - t.tokens, this.replicas);
    }
    return encodeUses(uses);
  }
}

// One replica's share of what is left: half its even split, rounded up (so a last request is never left to no one).
function shareOf(left: i64, replicas: i32): i64 {
  const parts = 2 * <i64>replicas;
  return left <= 0 ? 0 : (left + parts - 1) / parts;
}

function sentFor(sent: DayReport[], t: DayTotal): DayReport | null {
  for (let k = 0; k < sent.length; k++) if (sent[k].id == t.id && sent[k].day == t.day) return sent[k];
  return null;
}
