// AIMD recovery, the lease holder's work: each interval without a 429 gives a slowed-down key a
// step of its share back, told to the other replicas when there are some.
import { CasOutcome } from "../../runtime/shared_data";
import { Recover } from "./pool_changes";
import { KeyEvent, SharedPool } from "./pool_events";
import { PoolStore } from "./pool_store";
import { RATE_STEP } from "./pool_state";
import { FULL_RATE } from "../base/rates";

export class RateRecovery {
  /** Share this holder expects each slowed-down key to have; a lower one means a 429 came meanwhile. */
  private expectedFactor: Map<u64, i32> = new Map();

  constructor(private store: PoolStore) {}

  /** One interval passed: keys whose share did not drop since the last one get a step back. */
  recover(now: i64, shared: SharedPool | null): void {
    const store = this.store;
    store.refresh();
    const quiet: u64[] = [];
    for (let i = 0; i < store.ids.length; i++) {
      const t = store.token(i);
      if (t == null || t.rateFactor >= FULL_RATE) continue;
      const id = store.ids[i];
      const expected = this.expectedFactor.has(id) ? this.expectedFactor.get(id) : -1;
      if (t.rateFactor == expected) quiet.push(id);
      this.expectedFactor.set(id, t.rateFactor == expected ? min(FULL_RATE, t.rateFactor + RATE_STEP) : t.rateFactor);
    }
    if (quiet.length == 0 || store.update(new Recover(quiet)) != CasOutcome.Stored || shared == null) return;
    const events: KeyEvent[] = [];
    for (let k = 0; k < quiet.length; k++) {
      const t = store.token(store.ids.indexOf(quiet[k]));
      events.push(new KeyEvent("f", quiet[k], now, t != null ? t.rateFactor : FULL_RATE, 0));
    }
    shared.publish(events);
  }
}
