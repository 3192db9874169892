// The process's budget buckets fed from Redis, where the gateway replicas share each key's limit:
// what the lease holder asks on each sync, and the grants it puts in the buckets. While Redis
// answers, the buckets do not refill by themselves; while it does not, they refill at the
// process's share of each limit (the limit divided by the replicas last seen alive).
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { BUDGET_RECORD } from "../shared_record";
import { encodeBudget } from "./budget_bucket";
import { FULL_RATE } from "../pool/pool_state";
import { Budgets, recordOf } from "./budget";
import { BudgetAsk } from "../replica/sync_script";
import { BudgetGrant } from "../replica/sync_reply";

/**
 * What to ask for each key with a budget: enough to fill this process's bucket (its share of the
 * limit); `charge`: also what the bucket holds, so credit from before the link worked is counted
 * on the shared bucket (Redis would otherwise give it a second time).
 */
export function budgetAsks(budgets: Budgets, factors: i32[] | null, now: i64, charge: bool): BudgetAsk[] {
  const record = recordOf(readShared(budgets.key));
  const asks: BudgetAsk[] = [];
  for (let i = 0; i < budgets.ids.length; i++) {
    if (budgets.rpm[i] == 0 && budgets.tpm[i] == 0) continue;
    const factor = factorAt(factors, i);
    const whole = budgets.rates(i, factor);
    const local = budgets.rates(i, factor, record.replicas);
    const b = local.bucketOf(record.buckets, budgets.ids[i], now, record.fed);
    const hasReq = budgets.rpm[i] > 0, hasTok = budgets.tpm[i] > 0;
    asks.push(new BudgetAsk(budgets.ids[i],
      hasReq ? whole.requests : 0, hasReq ? whole.requestCap : 0, hasTok ? whole.tokens : 0, hasTok ? whole.tokenCap : 0,
      hasReq ? max<i64>(0, local.requestCap - b.requests) : 0, hasTok ? max<i64>(0, local.tokenCap - b.tokens) : 0,
      charge && hasReq ? max<i64>(0, b.requests) : 0, charge && hasTok ? max<i64>(0, b.tokens) : 0));
  }
  return asks;
}

/** Puts Redis's grants in the buckets and records where credit comes from (`fed`) and the replicas' count. */
export function feedBudgets(budgets: Budgets, factors: i32[] | null, grants: BudgetGrant[], replicas: i32, fed: bool, now: i64): bool {
  return compareAndSwap(budgets.key, new Feed(budgets, factors, grants, replicas, fed, now)) == CasOutcome.Stored;
}

class Feed extends SharedUpdate {
  constructor(private budgets: Budgets, private factors: i32[] | null, private grants: BudgetGrant[], private replicas: i32,
              private fed: bool, private now: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const record = recordOf(current);
    const before = record.fed;
    // Refilled to now under the rules in force until now, then fed under the new ones.
    const budgets = this.budgets;
    for (let i = 0; i < budgets.ids.length; i++) {
      if (budgets.rpm[i] == 0 && budgets.tpm[i] == 0) continue;
      budgets.rates(i, factorAt(this.factors, i), record.replicas).bucketOf(record.buckets, budgets.ids[i], this.now, before);
    }
    if (this.grants.length == 0 && record.replicas == this.replicas && record.fed == this.fed) return null;
    record.replicas = this.replicas;
    record.fed = this.fed;
    for (let g = 0; g < this.grants.length; g++) {
      const i = budgets.ids.indexOf(this.grants[g].id);
      if (i < 0) continue;
      const rates = budgets.rates(i, factorAt(this.factors, i), this.replicas);
      const b = rates.bucketOf(record.buckets, budgets.ids[i], this.now, true);
      b.requests = min(rates.requestCap, b.requests + this.grants[g].requests);
      b.tokens = min(rates.tokenCap, b.tokens + this.grants[g].tokens);
    }
    return BUDGET_RECORD.encode(encodeBudget(record));
  }
}

function factorAt(factors: i32[] | null, i: i32): i32 {
  return factors != null ? factors[i] : FULL_RATE;
}
