// Failover of one configuration in one VM: token choice, counting outcomes, and the background
// work of the lease holder (restoring cooldowns, probing tokens that are out).
import { BufferType, LogLevel, MapType } from "../abi/enums";
import { getBufferBytes } from "../runtime/buffers";
import { HeaderList, getHeaderPairs } from "../runtime/headers";
import { getProperty, nowMs } from "../runtime/host";
import { dispatchHttpCall } from "../runtime/http";
import { log, logEnabled } from "../runtime/log";
import { getShared, setShared } from "../runtime/shared_data";
import { PluginConfig } from "./config";
import { fingerprint } from "./fingerprint";
import { acquireLease } from "./lease";
import { AddTokens, CountFailure, CountProbe, CountSuccess, RestoreDue } from "./pool_changes";
import { PluginMetrics } from "./metrics";
import { FailureOutcome } from "./pool_state";
import { PoolStore } from "./pool_store";
import { ProbeTarget, probeBody, probeHeaders, resolveTarget } from "./probe";
import { probeSucceeded } from "./response_rules";
import { Random } from "./random";

/** At most this many probes in flight per prober, so a pool of dead tokens is not a burst of billed calls. */
export const MAX_PROBES_IN_FLIGHT = 4;
/** Bytes of a probe answer read to test successConditions. */
const PROBE_BODY_LIMIT: usize = 65536;

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

export class Failover {
  store: PoolStore;
  leaseKey: ArrayBuffer;
  targetKey: ArrayBuffer;
  /** Identity of this root context in the lease. */
  holderId: string;
  /** Configuration time; a newer configuration takes the lease from an older one. */
  stamp: i64;
  holdsLease: bool = false;
  /** Probe call id -> configured token index. */
  private probes: Map<u32, i32> = new Map();
  /** Last probe target this VM read or wrote, to skip redundant writes. */
  private knownTarget: string = "";

  constructor(public cfg: PluginConfig, public metrics: PluginMetrics, ids: u64[], prefix: string, holderId: string, now: i64) {
    this.store = new PoolStore(prefix + ":pool", ids);
    this.leaseKey = String.UTF8.encode(prefix + ":lease");
    this.targetKey = String.UTF8.encode(prefix + ":probe-target");
    this.holderId = holderId;
    this.stamp = now;
  }

  /** Joins the pool record: creates it, or adds tokens new to it; tokens it knows keep their state. */
  start(): void {
    this.store.refresh();
    this.store.update(new AddTokens(this.store.ids));
    this.store.refresh();
  }

  fingerprintOf(i: i32): string { return fingerprint(i, this.store.ids[i]); }

  /** Chooses a token for a request: one shared-data read, no write. */
  pick(random: Random): i32 {
    this.store.refresh();
    return this.store.pick(random);
  }

  /** A token in the pool this request has not tried, after re-reading the pool; -1 if none. */
  pickUntried(random: Random, tried: i32[]): i32 {
    this.store.refresh();
    return this.store.pickExcluding(random, tried);
  }

  /** Whether token `i` had failures or was out when last read (a success then needs a write). */
  needsSuccessWrite(i: i32): bool {
    const t = this.store.token(i);
    return t != null && (t.failures > 0 || t.out);
  }

  /** Records a success of token `i`. */
  countSuccess(i: i32): void {
    if (this.needsSuccessWrite(i)) this.store.update(new CountSuccess(this.store.ids[i]));
  }

  /** Records a counted failure of token `i`; `retryAfterAt` > 0 benches it until then. */
  countFailure(i: i32, status: i32, retryAfterAt: i64): void {
    const f = this.cfg.failover;
    const change = new CountFailure(this.store.ids[i], status, nowMs(), retryAfterAt, f.failureThreshold, <i64>f.cooldownDuration);
    this.metrics.failure(i, status);
    if (this.store.update(change) && change.outcome == FailureOutcome.Ejected) {
      this.metrics.ejected(i);
      if (logEnabled(LogLevel.Info)) {
        log(LogLevel.Info, "token " + this.fingerprintOf(i) + " taken out of the pool (status " + status.toString() +
          (retryAfterAt > 0 ? ", Retry-After" : "") + ")");
      }
    }
    this.rememberTarget();
  }

  // Probes go where real traffic failed: remember the cluster, host and path of this request.
  private rememberTarget(): void {
    const hc = this.cfg.failover.healthCheck;
    if (hc.cluster.length > 0 && hc.authority.length > 0 && hc.path.length > 0) return;
    const cluster = routeCluster();
    if (cluster == null) return;
    const host = getProperty("request.host");
    const path = getProperty("request.url_path");
    const target = new ProbeTarget(cluster, host != null ? host : "", path != null ? path : "").encode();
    if (target == this.knownTarget) return;
    this.knownTarget = target;
    setShared(this.targetKey, String.UTF8.encode(target), 0);
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
    if (this.store.update(restore)) {
      for (let k = 0; k < restore.restored.length; k++) {
        const i = this.store.ids.indexOf(restore.restored[k]);
        if (i < 0) continue;
        this.metrics.restored(i);
        if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " back in the pool after its cooldown");
      }
    }
    this.store.refresh();
    this.metrics.inPool(this.store.inPoolCount);
    this.sendProbes();
  }

  private sendProbes(): void {
    if (this.probes.size >= MAX_PROBES_IN_FLIGHT) return;
    let target: ProbeTarget | null = null;
    let body: ArrayBuffer | null = null;
    for (let i = 0; i < this.store.ids.length && this.probes.size < MAX_PROBES_IN_FLIGHT; i++) {
      const t = this.store.token(i);
      if (t == null || !t.out || t.returnsAt > 0 || this.probing(i)) continue;
      if (target == null) {
        target = resolveTarget(this.cfg, this.readTarget());
        if (target == null) {
          if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "no probe target known yet: set failover.healthCheck.cluster");
          return;
        }
        body = String.UTF8.encode(probeBody(this.cfg));
      }
      const headers = probeHeaders(this.cfg, target, this.cfg.apiTokens[i]);
      const callId = dispatchHttpCall(target.cluster, headers, body!, <u32>this.cfg.failover.healthCheckTimeout);
      if (callId == 0) {
        if (logEnabled(LogLevel.Warn)) log(LogLevel.Warn, "probe of token " + this.fingerprintOf(i) + " could not be sent to cluster " + target.cluster);
        return;
      }
      this.probes.set(callId, i);
    }
  }

  private probing(i: i32): bool {
    const values = this.probes.values();
    for (let k = 0; k < values.length; k++) if (values[k] == i) return true;
    return false;
  }

  private readTarget(): ProbeTarget | null {
    const v = getShared(this.targetKey);
    if (v == null) return null;
    const text = String.UTF8.decode(v);
    this.knownTarget = text;
    return ProbeTarget.decode(text);
  }

  /** Handles the answer of a probe; returns false when `callId` is not a probe of this context. */
  onProbeResponse(callId: u32, numHeaders: u32, bodySize: usize): bool {
    if (!this.probes.has(callId)) return false;
    const i = this.probes.get(callId);
    this.probes.delete(callId);
    let ok = false;
    let status = 0;
    if (numHeaders > 0) {
      const headers: HeaderList = getHeaderPairs(MapType.HttpCallResponseHeaders);
      status = headers.status();
      const rules = this.cfg.failover.healthCheck.successConditions;
      let body = "";
      if (rules.length > 0 && bodySize > 0) {
        const bytes = getBufferBytes(BufferType.HttpCallResponseBody, 0, bodySize < PROBE_BODY_LIMIT ? bodySize : PROBE_BODY_LIMIT);
        if (bytes != null) body = String.UTF8.decode(bytes);
      }
      ok = probeSucceeded(rules, status, headers, body);
    }
    const change = new CountProbe(this.store.ids[i], ok, status, this.cfg.failover.successThreshold);
    this.metrics.probe(i, ok);
    if (this.store.update(change) && change.restored) {
      this.metrics.restored(i);
      if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + this.fingerprintOf(i) + " back in the pool after a successful probe");
    }
    return true;
  }
}
