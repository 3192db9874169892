// The process's budget buckets fed from Redis, where the gateway replicas share each key's limit:
// what the lease holder asks on each sync, and the grants it puts in the buckets. While Redis
// answers, the buckets do not refill by themselves and Redis's atomic grants decide who gets
// what; while it does not, they refill at the process's share of each limit (the limit divided by
// the replicas last seen alive).
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { BUDGET_RECORD } from "../base/shared_record";
import { encodeBudget } from "../budget/budget_bucket";
import { Budgets } from "../budget/budget";
import { factorAt, recordOf } from "../budget/budget_updates";
import { BudgetAsk } from "./sync_script";
import { BudgetGrant } from "./sync_reply";

/** How this sync relates to the link's history. */
export const enum FeedStart {
  /** The link worked at the last sync. */
  Running = 0,
  /** The process's first sync: its buckets' credit was its own, not the replicas'; they start empty. */
  Joining = 1,
  /** Redis comes back after `downForMs`: what the buckets refilled meanwhile is charged to the shared buckets. */
  Recovering = 2,
}

/**
 * What to ask for each key with a budget: enough to fill this process's share of the key's bucket
 * (the limit divided by the live replicas); when recovering, the shared bucket is charged what
 * this process's share refilled while Redis was away (so the replicas together spend no more than
 * the key's rate over the outage).
 */
export function budgetAsks(budgets: Budgets, factors: i32[] | null, now: i64, start: FeedStart, downForMs: i64): BudgetAsk[] {
  const record = recordOf(readShared(budgets.key));
  const asks: BudgetAsk[] = [];
  for (let i = 0; i < budgets.ids.length; i++) {
    if (budgets.rpm[i] == 0 && budgets.tpm[i] == 0) continue;
    const factor = factorAt(factors, i);
    const whole = budgets.rates(i, factor);
    const share = budgets.rates(i, factor, record.replicas);
    const b = budgets.rates(i, factor, record.divisor).bucketOf(record.buckets, budgets.ids[i], now, record.fed);
    const reqLevel = start == FeedStart.Joining ? 0 : b.requests, tokLevel = start == FeedStart.Joining ? 0 : b.tokens;
    const hasReq = budgets.rpm[i] > 0, hasTok = budgets.tpm[i] > 0;
    const recovering = start == FeedStart.Recovering;
    const chargeReq = recovering ? min(share.requestCap, <i64>(share.requests * <f64>downForMs)) : 0;
    const chargeTok = recovering ? min(share.tokenCap, <i64>(share.tokens * <f64>downForMs)) : 0;
    asks.push(new BudgetAsk(budgets.ids[i],
      hasReq ? whole.requests : 0, hasReq ? whole.requestCap : 0, hasTok ? whole.tokens : 0, hasTok ? whole.tokenCap : 0,
      hasReq ? max<i64>(0, share.requestCap - reqLevel) : 0, hasTok ? max<i64>(0, share.tokenCap - tokLevel) : 0,
      hasReq ? chargeReq : 0, hasTok ? chargeTok : 0));
  }
  return asks;
}

/**
 * Records where the buckets' credit comes from (`fed`: Redis) and the live replicas, and puts
 * Redis's grants in them; `empty` first empties them (the process joins the replicas).
 */
export function feedBudgets(budgets: Budgets, factors: i32[] | null, grants: BudgetGrant[], replicas: i32, fed: bool, empty: bool,
                            now: i64): bool {
  return compareAndSwap(budgets.key, new Feed(budgets, factors, grants, replicas, fed, empty, now)) == CasOutcome.Stored;
}

class Feed extends SharedUpdate {
  constructor(private budgets: Budgets, private factors: i32[] | null, private grants: BudgetGrant[], private replicas: i32,
              private fed: bool, private empty: bool, private now: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const record = recordOf(current);
    const budgets = this.budgets;
    // Refilled to now under the rules in force until now, then fed under the new ones.
    for (let i = 0; i < budgets.ids.length; i++) {
      if (budgets.rpm[i] == 0 && budgets.tpm[i] == 0) continue;
      const b = budgets.rates(i, factorAt(this.factors, i), record.divisor).bucketOf(record.buckets, budgets.ids[i], this.now, record.fed);
      if (this.empty) { b.requests = 0; b.tokens = 0; }
    }
    if (!this.empty && this.grants.length == 0 && record.replicas == this.replicas && record.fed == this.fed) return null;
    record.replicas = this.replicas;
    record.fed = this.fed;
    for (let g = 0; g < this.grants.length; g++) {
      const i = budgets.ids.indexOf(this.grants[g].id);
      if (i < 0) continue;
      const rates = budgets.rates(i, factorAt(this.factors, i), record.divisor);
      const b = rates.bucketOf(record.buckets, budgets.ids[i], this.now, record.fed);
      b.requests = min(rates.requestCap, b.requests + this.grants[g].requests);
      b.tokens = min(rates.tokenCap, b.tokens + this.grants[g].tokens);
    }
    return BUDGET_RECORD.encode(encodeBudget(record));
  }
}
