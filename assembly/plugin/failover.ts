// Failover of one configuration in one VM: token choice, counting outcomes, and the background
// work of the lease holder (restoring cooldowns, probing tokens that are out).
import { LogLevel } from "../abi/enums";
import { CallAnswer, CallHandler, dispatchCall } from "../runtime/calls";
import { getProperty, nowMs } from "../runtime/host";
import { log, logEnabled } from "../runtime/log";
import { CasOutcome, readShared, writeShared } from "../runtime/shared_data";
import { PluginConfig } from "./config";
import { fingerprint } from "./fingerprint";
import { acquireLease } from "./lease_store";
import { AddTokens, CountFailure, CountProbe, CountSuccess, LimitUntil, Recover, RestoreDue } from "./pool_changes";
import { PluginMetrics } from "./metrics";
import { FULL_RATE, FailureOutcome, RATE_STEP } from "./pool_state";
import { Budgets } from "./budget";
import { PoolStore } from "./pool_store";
import { TARGET_RECORD } from "./shared_record";
import { ProbeScheduler, ProbeTarget, probeBody, probeHeaders, resolveTarget } from "./probe";
import { Random } from "./random";
import { AnswerOrigin, VerdictKind, judgeProbe } from "./verdict";

/** At most this many probes in flight per prober, so a pool of dead tokens is not a burst of billed calls. */
export const MAX_PROBES_IN_FLIGHT = 4;
/** A VM learns the probe target again from a successful request after this long (routes change). */
const TARGET_RELEARN_MS: i64 = 60_000;
/** Bytes of a probe answer read to test successConditions. */
const PROBE_BODY_LIMIT: usize = 65536;

function isServerError(status: i32): bool { return status >= 500 && status < 600; }

/** Envoy cluster of the current request's route (`xds.cluster_name`, older hosts `cluster_name`), or null. */
export function routeCluster(): string | null {
  let cluster = getProperty("xds.cluster_name");
  if (cluster == null || cluster.length == 0) cluster = getProperty("cluster_name");
  return cluster != null && cluster.length > 0 ? cluster : null;
}

/** Shared-data key prefix of a pool: plugin name, provider type and id. */
export function poolKeyPrefix(pluginName: string, cfg: PluginConfig): string {
  return "ai-token-failover:" + pluginName + ":" + cfg.providerType + ":" + cfg.providerId;
}

/** The answer of one probe, for the token it carried. */
class ProbeCall extends CallHandler {
  constructor(public failover: Failover, public token: i32) { super(); }
  onAnswer(answer: CallAnswer | null): void { this.failover.onProbeAnswer(this.token, answer); }
}

export class Failover {
  store: PoolStore;
  leaseKey: ArrayBuffer;
  targetKey: ArrayBuffer;
  /** Identity of this root context in the lease. */
  holderId: string;
  /** Configuration time; a newer configuration takes the lease from an older one. */
  stamp: i64;
  holdsLease: bool = false;
  /** The configuration's budgets (for the gauges the holder sets), if any. */
  budgets: Budgets | null = null;
  /** Whether each configured token has a probe in flight. */
  private probing: bool[];
  private probesInFlight: i32 = 0;
  private scheduler: ProbeScheduler = new ProbeScheduler();
  /** Last probe target this VM read or wrote, to skip redundant writes. */
  private knownTarget: string = "";
  /** When this VM last learned the probe target from a successful request (ms; 0: never). */
  private targetLearnedAt: i64 = 0;
  /**
   * Order numbers of each key's last success and last 5xx in this VM (a counter, not the clock:
   * no host call per answer). A key whose last answer was a recent success vouches that the
   * provider works, so a 5xx elsewhere is that key's.
   */
  private answers: u64 = 0;
  private lastSuccess: u64[];
  private lastServerError: u64[];

  constructor(public cfg: PluginConfig, public metrics: PluginMetrics, ids: u64[], prefix: string, holderId: string, now: i64) {
    this.store = new PoolStore(prefix + ":pool", ids);
    this.leaseKey = String.UTF8.encode(prefix + ":lease");
    this.targetKey = String.UTF8.encode(prefix + ":probe-target");
    this.holderId = holderId;
    this.stamp = now;
    this.probing = new Array<bool>(ids.length).fill(false);
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

  /** Key i's AIMD share (thousandths) as of the last read. */
  factorOf(i: i32): i32 {
    const t = this.store.token(i);
    return t != null ? t.rateFactor : FULL_RATE;
  }

  /** The provider said key `i` has nothing left until `until`: no VM chooses it before then. */
  limit(i: i32, until: i64): void {
    if (this.store.update(new LimitUntil(this.store.ids[i], until)) == CasOutcome.Stored && logEnabled(LogLevel.Info)) {
      log(LogLevel.Info, "token " + this.fingerprintOf(i) + " has no rate limit left for " + (until - nowMs()).toString() + " ms");
    }
  }

  /** Records a success of token `i`: a write only when it had failures or was out (a success brings it back). */
  countSuccess(i: i32, origin: AnswerOrigin, status: i32): void {
    // Only a 2xx vouches that the provider works (Envoy's own replies are not 2xx).
    if (status >= 200 && status < 300) this.lastSuccess[i] = ++this.answers;
    const t = this.store.token(i);
    if (t == null || (t.failures == 0 && !t.out)) return;
    // Envoy's own replies (a later filter's 413, a timeout) prove nothing about the key.
    if (!origin.fromProvider()) return;
    const change = new CountSuccess(this.store.ids[i], nowMs());
    if (this.store.update(change) != CasOutcome.Stored) return;
    this.metrics.inPool(this.store.inPoolCount);
    if (change.restored) {
      this.metrics.restored(i);
      if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " back in the pool after a successful answer");
    }
  }

  /**
   * A failure of token `i` judged on this answer alone. 401, 403, 429 and failure rules are the
   * key's; a 5xx says nothing about a key unless another key's last answer in this VM, among the
   * recent ones, was a success (the provider works, this key does not).
   */
  countFailureOfKey(i: i32, status: i32, retryAfterAt: i64): void {
    if (isServerError(status) && !this.peerWorks(i)) {
      this.lastServerError[i] = ++this.answers;
      this.metrics.failureNotCounted();
      return;
    }
    this.countFailure(i, status, retryAfterAt);
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

  /** Records a counted failure of token `i`; `retryAfterAt` > 0 benches it until then. */
  countFailure(i: i32, status: i32, retryAfterAt: i64): void {
    if (isServerError(status)) this.lastServerError[i] = ++this.answers;
    const f = this.cfg.failover;
    const maxOut = this.store.ids.length * f.maxEjectionPercent / 100;
    const change = new CountFailure(this.store.ids[i], status, nowMs(), retryAfterAt, f.failureThreshold, <i64>f.cooldownDuration,
      this.store.ids, maxOut);
    this.metrics.failure(i, status);
    if (this.store.update(change) == CasOutcome.Stored && change.outcome == FailureOutcome.Ejected) {
      this.metrics.ejected(i);
      this.metrics.inPool(this.store.inPoolCount);
      if (logEnabled(LogLevel.Info)) {
        log(LogLevel.Info, "token " + this.fingerprintOf(i) + " taken out of the pool (status " + status.toString() +
          (retryAfterAt > 0 ? ", Retry-After" : "") + ")");
      }
    }
  }

  /** Whether probes still need a target learned from traffic. */
  get learnsTarget(): bool {
    const hc = this.cfg.failover.healthCheck;
    return hc.cluster.length == 0 || hc.authority.length == 0 || hc.path.length == 0;
  }

  /** Whether this VM should learn the probe target from a successful request now (once a minute at most). */
  wantsTarget(now: i64): bool {
    return this.learnsTarget && (this.targetLearnedAt == 0 || now - this.targetLearnedAt >= TARGET_RELEARN_MS);
  }

  /** Probes go where successful requests went: stores the target when it differs from the last one known. */
  recordTarget(target: ProbeTarget, now: i64): void {
    this.targetLearnedAt = now;
    const text = target.encode();
    if (text == this.knownTarget) return;
    this.knownTarget = text;
    writeShared(this.targetKey, TARGET_RECORD.encode(text), 0);
  }

  /** Timer: renew the lease; as holder restore due tokens and probe the others. */
  onTick(random: Random): void {
    const now = nowMs();
    const was = this.holdsLease;
    this.holdsLease = acquireLease(this.leaseKey, this.holderId, this.stamp, now, <i64>this.cfg.failover.healthCheckInterval);
    if (this.holdsLease != was && logEnabled(LogLevel.Debug)) {
      log(LogLevel.Debug, (this.holdsLease ? "took" : "lost") + " the probe lease");
    }
    if (!this.holdsLease) return;
    const restore = new RestoreDue(now);
    if (this.store.update(restore) == CasOutcome.Stored) {
      for (let k = 0; k < restore.restored.length; k++) {
        const i = this.store.ids.indexOf(restore.restored[k]);
        if (i < 0) continue;
        this.metrics.restored(i);
        if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " back in the pool after its cooldown");
      }
    }
    this.recoverRates();
    this.store.refresh();
    this.metrics.inPool(this.store.inPoolCount);
    this.setKeyGauges(now);
    this.sendProbes(now);
  }

  private setKeyGauges(now: i64): void {
    const budgets = this.budgets;
    const levels = budgets != null ? budgets.snapshot(now, this.store.factors) : null;
    for (let i = 0; i < this.store.ids.length; i++) {
      const t = this.store.token(i);
      if (t == null) continue;
      this.metrics.keyGauges(i, t.rateFactor, t.isLimited(now) ? t.limitedUntil - now : 0, levels != null ? levels[i] : null);
    }
  }

  /** Share this holder expects each slowed-down key to have; a lower one means a 429 came meanwhile. */
  private expectedFactor: Map<u64, i32> = new Map();

  // AIMD: each interval without a 429 gives a slowed-down key a step of its share back.
  private recoverRates(): void {
    this.store.refresh();
    const quiet: u64[] = [];
    for (let i = 0; i < this.store.ids.length; i++) {
      const t = this.store.token(i);
      if (t == null || t.rateFactor >= FULL_RATE) continue;
      const id = this.store.ids[i];
      const expected = this.expectedFactor.has(id) ? this.expectedFactor.get(id) : -1;
      if (t.rateFactor == expected) quiet.push(id);
      this.expectedFactor.set(id, t.rateFactor == expected ? min(FULL_RATE, t.rateFactor + RATE_STEP) : t.rateFactor);
    }
    if (quiet.length > 0) this.store.update(new Recover(quiet));
  }

  private sendProbes(now: i64): void {
    const slots = MAX_PROBES_IN_FLIGHT - this.probesInFlight;
    if (slots <= 0) return;
    const n = this.store.ids.length;
    const due = new Array<bool>(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      const t = this.store.token(i);
      due[i] = t != null && t.out && t.returnsAt == 0 && !this.probing[i];
      any = any || due[i];
    }
    if (!any) return;
    const target = resolveTarget(this.cfg, this.readTarget());
    if (target == null) {
      if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "no probe target known yet: set failover.healthCheck.cluster");
      return;
    }
    const body = String.UTF8.encode(probeBody(this.cfg));
    const chosen = this.scheduler.next(due, slots);
    for (let k = 0; k < chosen.length; k++) {
      const i = chosen[k];
      const headers = probeHeaders(this.cfg, target, this.cfg.apiTokens[i]);
      if (!dispatchCall(target.cluster, headers, body, <u32>this.cfg.failover.healthCheckTimeout, new ProbeCall(this, i))) {
        if (logEnabled(LogLevel.Warn)) log(LogLevel.Warn, "probe of token " + this.fingerprintOf(i) + " could not be sent to cluster " + target.cluster);
        return;
      }
      this.probing[i] = true;
      this.probesInFlight++;
    }
  }

  private readTarget(): ProbeTarget | null {
    const text = TARGET_RECORD.decode(readShared(this.targetKey));
    if (text == null) return null;
    this.knownTarget = text;
    return ProbeTarget.decode(text);
  }

  /** Counts the answer of a probe of token `i` (null: the call failed or timed out). */
  onProbeAnswer(i: i32, answer: CallAnswer | null): void {
    this.probing[i] = false;
    this.probesInFlight--;
    const now = nowMs();
    const status = answer != null ? answer.status : 0;
    const body = answer != null && this.cfg.failover.healthCheck.successConditions.length > 0 ? answer.body(PROBE_BODY_LIMIT) : new ArrayBuffer(0);
    const v = judgeProbe(this.cfg.failover, status, answer != null ? answer.headers : null, body, now);
    const ok = v.kind == VerdictKind.Success;
    const change = new CountProbe(this.store.ids[i], ok, status, this.cfg.failover.successThreshold, now, v.retryAfterAt);
    this.metrics.probe(i, ok);
    if (this.store.update(change) == CasOutcome.Stored && change.restored) {
      this.metrics.restored(i);
      this.metrics.inPool(this.store.inPoolCount);
      if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " back in the pool after a successful probe");
    }
  }
}
