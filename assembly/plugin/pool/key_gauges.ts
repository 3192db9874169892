// The per-key gauges the lease holder sets each interval: state, AIMD share, rate-limit reset and
// shared budgets.
import { KEY_DEAD, KEY_IN, KEY_TIRED, PluginMetrics } from "../base/metrics";
import { Budgets } from "../budget/budget";
import { budgetLevels } from "../budget/budget_levels";
import { PoolStore } from "./pool_store";

export function setKeyGauges(store: PoolStore, metrics: PluginMetrics, budgets: Budgets | null, now: i64): void {
  const levels = budgets != null ? budgetLevels(budgets, now, store.factors) : null;
  for (let i = 0; i < store.ids.length; i++) {
    const t = store.token(i);
    if (t == null) continue;
    const state = t.isIn(now) ? KEY_IN : t.dead ? KEY_DEAD : KEY_TIRED;
    metrics.keyGauges(i, state, t.rateFactor, t.isLimited(now) ? t.limitedUntil - now : 0, levels != null ? levels[i] : null);
  }
}
