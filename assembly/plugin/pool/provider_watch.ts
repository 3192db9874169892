// The provider's state as one VM acts on it: records the evidence of requests that failed the
// provider's way, takes the pace slot for a request while the provider is limited or failing,
// and says so once per change (a log line, the gauge).
import { LogLevel } from "../../abi/enums";
import { log, logEnabled } from "../../runtime/log";
import { CasOutcome } from "../../runtime/shared_data";
import { PluginMetrics } from "../base/metrics";
import { PoolStore } from "./pool_store";
import { ProviderHealth, healthName } from "./provider_health";
import { ClaimPace, CountSignal, SignalOutcome } from "./provider_signals";

/** Why the provider is in its state, for the log and the status document. */
export function providerReason(health: ProviderHealth, status: i32, rule: i32): string {
  if (health == ProviderHealth.Ok) return "";
  return (rule >= 0 ? "failover.failureConditions[" + rule.toString() + "] matched" : "status " + status.toString()) +
    " on every key, from different requests";
}

export class ProviderWatch {
  constructor(private store: PoolStore, private metrics: PluginMetrics) {}

  /**
   * A request every attempt of which failed the provider's way (`kind`; `status`, `rule` of the
   * last) tried `keys` (configured indices); `body`, `who`: hashes of its body and affinity value.
   */
  signal(keys: i32[], kind: ProviderHealth, status: i32, rule: i32, body: u32, who: u32, now: i64): void {
    const ids: u64[] = [];
    for (let k = 0; k < keys.length; k++) ids.push(this.store.ids[keys[k]]);
    const change = new CountSignal(ids, kind, status, rule, body, who, this.store.ids, now);
    if (this.store.update(change) != CasOutcome.Stored) return;
    if (change.outcome == SignalOutcome.Entered) this.changed(change.before);
  }

  /** Whether a request may go to the provider now: always while it is ok, else when it takes the pace slot. */
  claim(now: i64): bool {
    const p = this.store.provider;
    if (p.ok) return true;
    if (p.nextSendAt > now) return false;
    const change = new ClaimPace(now);
    this.store.update(change);
    return change.granted;
  }

  /** The provider's state changed from `before` (the store holds the new one): one log line, the gauge. */
  changed(before: ProviderHealth): void {
    const p = this.store.provider;
    if (p.health == before) return;
    this.metrics.providerHealth(<i32>p.health);
    if (p.ok) {
      if (logEnabled(LogLevel.Warn)) log(LogLevel.Warn, "provider ok again after being " + healthName(before) + ": a request succeeded");
      return;
    }
    if (logEnabled(LogLevel.Warn)) {
      log(LogLevel.Warn, "provider " + healthName(p.health) + " (" + providerReason(p.health, p.lastStatus, p.rule) +
        "): one request per " + p.restMs.toString() + " ms goes to it, growing while this lasts; the plugin answers the others");
    }
  }
}
