// Probes of the keys that are out of the pool, sent by the lease holder: where they go (learned
// from successful requests, or configured), at most a few at once, and what their answers count.
import { LogLevel } from "../../abi/enums";
import { CallAnswer, CallHandler, dispatchCall } from "../../runtime/calls";
import { nowMs } from "../../runtime/host";
import { log, logEnabled } from "../../runtime/log";
import { CasOutcome, readShared, writeShared } from "../../runtime/shared_data";
import { fingerprint } from "../../util/fingerprint";
import { PluginConfig } from "../config/config";
import { VerdictKind, judgeProbe } from "../judge/verdict";
import { PluginMetrics } from "../metrics";
import { TARGET_RECORD } from "../shared_record";
import { CountProbe } from "./pool_changes";
import { KeyEvent, SharedPool } from "./pool_events";
import { PoolStore } from "./pool_store";
import { PROBE_MARK_HEADER, ProbeScheduler, ProbeTarget, probeBody, probeHeaders, resolveTarget } from "./probe";

/** At most this many probes in flight per prober, so a pool of dead tokens is not a burst of billed calls. */
export const MAX_PROBES_IN_FLIGHT = 4;
/** A VM learns the probe target again from a successful request after this long (routes change). */
const TARGET_RELEARN_MS: i64 = 60_000;
/** Bytes of a probe answer read to test successConditions. */
const PROBE_BODY_LIMIT: usize = 65536;

/** The answer of one probe, for the token it carried. */
class ProbeCall extends CallHandler {
  constructor(private prober: Prober, private token: i32) { super(); }
  onAnswer(answer: CallAnswer | null): void { this.prober.onAnswer(this.token, answer); }
}

export class Prober {
  /** The other gateway replicas, told when a probe brings a key back (null: none). */
  shared: SharedPool | null = null;
  /** Marks probes to the plugin's upstream-filter instances, which let them keep their key ("": not marked). */
  probeMark: string = "";
  private targetKey: ArrayBuffer;
  /** Whether each configured token has a probe in flight. */
  private probing: bool[];
  private probesInFlight: i32 = 0;
  private scheduler: ProbeScheduler = new ProbeScheduler();
  /** Last probe target this VM read or wrote, to skip redundant writes. */
  private knownTarget: string = "";
  /** When this VM last learned the probe target from a successful request (ms; 0: never). */
  private targetLearnedAt: i64 = 0;

  constructor(private cfg: PluginConfig, private metrics: PluginMetrics, private store: PoolStore, prefix: string) {
    this.targetKey = String.UTF8.encode(prefix + ":probe-target");
    this.probing = new Array<bool>(store.ids.length).fill(false);
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

  /** Sends probes to the keys that are out (at most MAX_PROBES_IN_FLIGHT at once). */
  send(now: i64): void {
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
      if (this.probeMark.length > 0) headers.add(PROBE_MARK_HEADER, this.probeMark);
      if (!dispatchCall(target.cluster, headers, body, <u32>this.cfg.failover.healthCheckTimeout, new ProbeCall(this, i))) {
        if (logEnabled(LogLevel.Warn)) log(LogLevel.Warn, "probe of token " + fingerprint(i, this.store.ids[i]) + " could not be sent to cluster " + target.cluster);
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
  onAnswer(i: i32, answer: CallAnswer | null): void {
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
      const shared = this.shared;
      if (shared != null) shared.publish([new KeyEvent("i", this.store.ids[i], now, 0, 0)]);
      if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + fingerprint(i, this.store.ids[i]) + " back in the pool after a successful probe");
    }
  }
}
