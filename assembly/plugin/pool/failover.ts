// Failover of one configuration in one VM: counting each key's outcomes, and the background work
// of the lease holder (restoring cooldowns, giving back AIMD shares, gauges, probes).
import { LogLevel } from "../../abi/enums";
import { nowMs } from "../../runtime/host";
import { log, logEnabled } from "../../runtime/log";
import { CasOutcome } from "../../runtime/shared_data";
import { PluginConfig } from "../config/config";
import { fingerprint } from "../../util/fingerprint";
import { acquireLease } from "./lease_store";
import { AddTokens, CountFailure, CountSuccess, RestoreDue, ejectionCap } from "./pool_changes";
import { RestUntil } from "./provider_signals";
import { ProviderWatch } from "./provider_watch";
import { RateRecovery } from "./rate_recovery";
import { PluginMetrics } from "../base/metrics";
import { Notifier } from "./notifier";
import { setKeyGauges } from "./key_gauges";
import { FailureOutcome, isDeadFailure } from "./pool_state";
import { FULL_RATE } from "../base/rates";
import { Budgets } from "../budget/budget";
import { PoolStore } from "./pool_store";
import { KeyEvent, SharedPool, failureEvents } from "./pool_events";
import { Prober, ejectionReason } from "./prober";
import { Random } from "../../util/random";
import { AnswerOrigin } from "../judge/verdict";
import { is2xx, is5xx } from "../../util/status";


/** Shared-data key prefix of a pool: plugin name, provider type and id. */
export function poolKeyPrefix(pluginName: string, cfg: PluginConfig): string {
  return "ai-token-failover:" + pluginName + ":" + cfg.providerType + ":" + cfg.providerId + (cfg.poolName.length > 0 ? ":" + cfg.poolName : "");
}

export class Failover {
  store: PoolStore;
  leaseKey: ArrayBuffer;
  /** Identity of this root context in the lease. */
  holderId: string;
  /** Configuration time; a newer configuration takes the lease from an older one. */
  stamp: i64;
  holdsLease: bool = false;
  /** The other gateway replicas sharing this pool (null: this process keeps it alone). */
  shared: SharedPool | null = null;
  /** Probes the keys that are out, while this VM holds the lease. */
  readonly prober: Prober;
  /** Whether the provider is the problem, and its pace. */
  readonly provider: ProviderWatch;
  /** Tells the operator of key and provider changes, while this VM holds the lease (null: notify is off). */
  notifier: Notifier | null = null;
  /** Gives slowed-down keys their share back (the lease holder's). */
  private rates: RateRecovery;
  /**
   * Order numbers of each key's last success and last 5xx in this VM (a counter, not the clock:
   * no host call per answer). A key whose last answer was a recent success vouches that the
   * provider works, so a 5xx elsewhere is that key's.
   */
  private answers: u64 = 0;
  private lastSuccess: u64[];
  private lastServerError: u64[];

  /** `budgets`: the configuration's, for the gauges the holder sets (null: none). */
  constructor(public cfg: PluginConfig, public metrics: PluginMetrics, ids: u64[], prefix: string, holderId: string, now: i64,
              private budgets: Budgets | null) {
    const store = new PoolStore(prefix + ":pool", ids);
    this.store = store;
    this.prober = new Prober(cfg, metrics, store, prefix);
    this.provider = new ProviderWatch(store, metrics);
    this.rates = new RateRecovery(store);
    this.leaseKey = String.UTF8.encode(prefix + ":lease");
    this.holderId = holderId;
    this.stamp = now;
    this.lastSuccess = new Array<u64>(ids.length).fill(0);
    this.lastServerError = new Array<u64>(ids.length).fill(0);
  }

  /** Joins the pool record: creates it, or adds tokens new to it; tokens it knows keep their state. */
  start(): void {
    this.store.refresh();
    this.store.update(new AddTokens(this.store.ids));
    this.store.refresh();
  }

  fingerprintOf(i: i32): string { return fingerprint(i, this.store.ids[i]); }

  /** Shares this pool with other gateway replicas from now on. */
  shareWith(shared: SharedPool): void {
    this.shared = shared;
    this.prober.shared = shared;
  }

  private publish(event: KeyEvent): void {
    const shared = this.shared;
    if (shared != null) shared.publish([event]);
  }

  /** Key i's AIMD share (thousandths) as of the last read. */
  factorOf(i: i32): i32 {
    const t = this.store.token(i);
    return t != null ? t.rateFactor : FULL_RATE;
  }

  /**
   * The provider said key `i` has nothing left until `until` (Retry-After, a rate-limit reset), in
   * its answer to request `by` (a hash of its body): no VM chooses it before then, within restBound.
   */
  rest(i: i32, until: i64, by: u32): void {
    const change = new RestUntil(this.store.ids[i], until, by, nowMs());
    if (this.store.update(change) != CasOutcome.Stored) return;
    this.publish(new KeyEvent("l", this.store.ids[i], 0, change.until, 0));
    if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " rests for " + (change.until - change.now).toString() + " ms: the provider has nothing left for it");
  }

  /**
   * Records a success of token `i`: a write only when it had failures or was out (a success brings
   * it back), or, for a 2xx, when it carries evidence about the provider or the provider is not ok.
   */
  countSuccess(i: i32, origin: AnswerOrigin, status: i32): void {
    // Only a 2xx vouches that the provider works (Envoy's own replies are not 2xx).
    const served = is2xx(status);
    if (served) this.lastSuccess[i] = ++this.answers;
    const t = this.store.token(i);
    if (t == null) return;
    const provider = this.store.provider;
    if (t.failures == 0 && !t.out && (!served || (t.signalAt == 0 && provider.ok))) return;
    // Envoy's own replies (a later filter's 413, a timeout) prove nothing about the key.
    if (!origin.fromProvider()) return;
    const before = provider.health;
    const change = new CountSuccess(this.store.ids[i], nowMs(), served);
    if (this.store.update(change) != CasOutcome.Stored) return;
    if (change.recovered) this.provider.changed(before);
    this.metrics.inPool(this.store.inPoolCount);
    if (change.restored) {
      this.metrics.restored(i);
      this.publish(new KeyEvent("i", this.store.ids[i], change.now, 0, 0));
      if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " back in the pool after a successful answer");
    }
  }

  /**
   * A failure of token `i` judged on this answer alone. 401, 403, 429 and failure rules are the
   * key's; a 5xx says nothing about a key unless another key's last answer in this VM, among the
   * recent ones, was a success (the provider works, this key does not).
   */
  countFailureOfKey(i: i32, status: i32, retryAfterAt: i64, rule: i32 = -1, by: u32 = 0): void {
    if (is5xx(status) && !this.peerWorks(i)) {
      this.lastServerError[i] = ++this.answers;
      this.metrics.failureNotCounted();
      return;
    }
    this.countFailure(i, status, retryAfterAt, rule, by);
  }

  // Recent: within the last 16 answers per configured key.
  private peerWorks(i: i32): bool {
    const horizon = <u64>this.lastSuccess.length * 16;
    for (let j = 0; j < this.lastSuccess.length; j++) {
      if (j == i) continue;
      const s = this.lastSuccess[j];
      if (s > 0 && s > this.lastServerError[j] && this.answers - s <= horizon) return true;
    }
    return false;
  }

  /**
   * Records a counted failure of token `i`; `retryAfterAt` > 0 benches it until then (within
   * restBound: `by` is the request's body hash); `rule` is the index of the failure rule that
   * matched (-1: the status alone).
   */
  countFailure(i: i32, status: i32, retryAfterAt: i64, rule: i32 = -1, by: u32 = 0): void {
    if (is5xx(status)) this.lastServerError[i] = ++this.answers;
    const f = this.cfg.failover;
    // A probe judges a key before it leaves, when one can be sent: no answer from traffic, which a
    // client may have caused, takes a key out by itself. (One more shared-data read, on failures only.)
    // A suspect probed soon is held meanwhile.
    const now = nowMs();
    const soon = this.prober.probesSoon(i, now);
    const change = new CountFailure(this.store.ids[i], status, now, retryAfterAt, f.failureThreshold, <i64>f.cooldownDuration,
      this.store.ids, ejectionCap(this.store.ids.length, f.maxEjectionPercent), this.prober.canProbe(), soon, by, isDeadFailure(f, status, rule));
    this.metrics.failure(i, status);
    const factorBefore = this.factorOf(i);
    if (this.store.update(change) != CasOutcome.Stored) return;
    const t = this.store.token(i);
    const shared = this.shared;
    if (shared != null && t != null) shared.publish(failureEvents(t, change, factorBefore));
    if (change.outcome == FailureOutcome.Suspected) this.prober.verify(i, ejectionReason(rule, status, false), soon, now);
    if (change.outcome != FailureOutcome.Ejected) return;
    this.metrics.ejected(i);
    this.metrics.inPool(this.store.inPoolCount);
    if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " taken out of the pool " + ejectionReason(rule, status, change.retryAfterAt > 0));
  }

  /** Timer: renew the lease; as holder restore due tokens and probe the others. */
  onTick(random: Random): void {
    const now = nowMs();
    const was = this.holdsLease;
    this.holdsLease = acquireLease(this.leaseKey, this.holderId, this.stamp, now, <i64>this.cfg.failover.healthCheckInterval);
    if (this.holdsLease != was && logEnabled(LogLevel.Debug)) {
      log(LogLevel.Debug, (this.holdsLease ? "took" : "lost") + " the probe lease");
    }
    if (!this.holdsLease) {
      const notifier = this.notifier;
      if (was && notifier != null) notifier.forget();
      return;
    }
    const restore = new RestoreDue(now);
    if (this.store.update(restore) == CasOutcome.Stored) {
      for (let k = 0; k < restore.restored.length; k++) {
        const i = this.store.ids.indexOf(restore.restored[k]);
        if (i < 0) continue;
        this.metrics.restored(i);
        this.publish(new KeyEvent("i", restore.restored[k], now, 0, 0));
        if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " back in the pool after its cooldown");
      }
    }
    // With other replicas, probes of the keys that are out and shares given back are the work of the
    // one holding their lease; this process still probes its own suspects.
    const shared = this.shared;
    const here = shared == null || shared.worksHere();
    if (here) this.rates.recover(now, this.shared);
    this.store.refresh();
    this.metrics.inPool(this.store.inPoolCount);
    this.metrics.providerHealth(<i32>this.store.provider.health);
    setKeyGauges(this.store, this.metrics, this.budgets, now);
    const notifier = this.notifier;
    if (notifier != null) notifier.onTick(this.store, now);
    this.prober.send(now, here);
  }

}

