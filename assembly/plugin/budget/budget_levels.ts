// What the budgets hold now, for the status endpoint and the gauges: one read of the minute
// record and one of the daily record.
import { readShared } from "../../runtime/shared_data";
import { NO_BUDGET_LEVEL } from "../base/rates";
import { Budgets } from "./budget";
import { factorAt, recordOf } from "./budget_updates";

/**
 * Per entry (the keys by configured index, then the groups): the minute buckets' whole requests
 * and tokens, and what is left of today's requests and tokens. NO_BUDGET_LEVEL where the entry has
 * no such budget; a minute level may be below zero (answers used more than estimated).
 */
export function budgetLevels(budgets: Budgets, now: i64, factors: i32[] | null): i64[][] {
  const record = recordOf(readShared(budgets.key));
  const day = budgets.daily.snapshot(now);
  const out = new Array<i64[]>(budgets.ids.length);
  for (let i = 0; i < budgets.ids.length; i++) {
    const b = budgets.rates(i, factorAt(factors, i), record.divisor).bucketOf(record.buckets, budgets.ids[i], now, record.fed);
    out[i] = [budgets.rpm[i] > 0 ? b.requests / 1000 : NO_BUDGET_LEVEL, budgets.tpm[i] > 0 ? b.tokens : NO_BUDGET_LEVEL,
      day[i][0] >= 0 ? day[i][0] : NO_BUDGET_LEVEL, day[i][1] >= 0 ? day[i][1] : NO_BUDGET_LEVEL];
  }
  return out;
}
