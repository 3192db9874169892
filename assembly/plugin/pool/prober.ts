// Probes of the keys that are out of the pool, sent by the lease holder, and of suspects (keys
// whose failures reached the threshold), sent at once by the VM that counted the last failure:
// where they go (learned from successful requests, or configured), at most a few at once, and what
// their answers count.
import { LogLevel } from "../../abi/enums";
import { CallAnswer, CallHandler, dispatchCall } from "../../runtime/calls";
import { nowMs } from "../../runtime/host";
import { log, logEnabled } from "../../runtime/log";
import { CasOutcome, readShared, writeShared } from "../../runtime/shared_data";
import { fingerprint } from "../../util/fingerprint";
import { PluginConfig } from "../config/config";
import { VerdictKind, judgeProbe } from "../judge/verdict";
import { PluginMetrics } from "../base/metrics";
import { TARGET_RECORD } from "../base/shared_record";
import { CountProbe, ejectionCap } from "./pool_changes";
import { KeyEvent, SharedPool } from "./pool_events";
import { PoolStore } from "./pool_store";
import { DeadProbes, ProbeVerdict, isDeadFailure } from "./pool_state";
import { PROBE_MARK_HEADER, ProbeScheduler, ProbeTarget, probeBody, probeHeaders, resolveTarget } from "./probe";

/** At most this many probes in flight per prober, so a pool of dead tokens is not a burst of billed calls. */
export const MAX_PROBES_IN_FLIGHT = 4;
/** A VM learns the probe target again from a successful request after this long (routes change). */
const TARGET_RELEARN_MS: i64 = 60_000;
/** Bytes of a probe answer read to test successConditions and failureConditions. */
const PROBE_BODY_LIMIT: usize = 65536;

/** Why a key left the pool, for its log line: the rule that matched (-1: none), the status, and how it was decided. */
export function ejectionReason(rule: i32, status: i32, retryAfter: bool, how: string = ""): string {
  return "(" + (rule >= 0 ? "failover.failureConditions[" + rule.toString() + "] matched, " : "") + "status " + status.toString() +
    (retryAfter ? ", Retry-After" : "") + (how.length > 0 ? ", " + how : "") + ")";
}

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
  /** When a probe this VM sent last found each token's failures to be the requests' (ms; 0: never). */
  private clearedAt: i64[];
  /** Suspects this VM probes as soon as a probe slot frees. */
  private waiting: bool[];
  private probesInFlight: i32 = 0;
  private scheduler: ProbeScheduler = new ProbeScheduler();
  private deadPace: DeadProbes;
  /** Last probe target this VM read or wrote, to skip redundant writes. */
  private knownTarget: string = "";
  /** When this VM last learned the probe target from a successful request (ms; 0: never). */
  private targetLearnedAt: i64 = 0;

  constructor(private cfg: PluginConfig, private metrics: PluginMetrics, private store: PoolStore, prefix: string) {
    this.targetKey = String.UTF8.encode(prefix + ":probe-target");
    this.deadPace = new DeadProbes(<i64>cfg.failover.healthCheckInterval, <i64>cfg.failover.maxProbeInterval);
    this.probing = new Array<bool>(store.ids.length).fill(false);
    this.clearedAt = new Array<i64>(store.ids.length).fill(0);
    this.waiting = new Array<bool>(store.ids.length).fill(false);
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

  /** Whether probes can be sent: the configuration has a probe request and its target is known. */
  canProbe(): bool {
    const f = this.cfg.failover;
    if (f.healthCheckModel.length == 0 && f.healthCheck.body.length == 0) return false;
    return resolveTarget(this.cfg, this.readTarget()) != null;
  }

  /**
   * Sends probes to suspects and, with `outKeys`, to the keys that are out (at most
   * MAX_PROBES_IN_FLIGHT at once); a suspect whose probe could not go (no slot, or the call
   * failed) is probed here again. Suspects are this process's own: with other replicas, the one
   * probing the keys that are out does not know them.
   */
  send(now: i64, outKeys: bool): void {
    const n = this.store.ids.length;
    const due = new Array<bool>(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      const t = this.store.token(i);
      // A dead key waits for its next probe time (a growing interval); a tired one is probed every tick.
      due[i] = t != null && (t.suspect || outKeys && t.out && t.returnsAt == 0 && (!t.dead || t.nextProbeAt <= now)) && !this.probing[i];
      any = any || due[i];
    }
    if (any) this.probe(this.scheduler.next(due, MAX_PROBES_IN_FLIGHT - this.probesInFlight), now);
  }

  /**
   * Probes suspect `i` now, or as soon as one of this VM's probe slots frees, unless a probe of
   * this VM cleared it within an interval (then the lease holder's next tick does): so however
   * often clients make a key reach the threshold, it costs at most one probe per interval per VM.
   * `reason`: its last failure; `soon`: what probesSoon said when the failure was counted.
   */
  verify(i: i32, reason: string, soon: bool, now: i64): void {
    if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + fingerprint(i, this.store.ids[i]) + " reached failureThreshold " + reason + ": a probe decides whether it leaves the pool");
    if (!soon) return;
    this.waiting[i] = true;
    this.probe([i], now);
  }

  /** Whether verify(i) has the key probed without waiting for a tick. */
  probesSoon(i: i32, now: i64): bool {
    const recent = this.clearedAt[i] > 0 && now - this.clearedAt[i] < <i64>this.cfg.failover.healthCheckInterval;
    return !this.probing[i] && !recent;
  }

  // Probes the suspects waiting for a slot, in turn.
  private probeWaiting(now: i64): void {
    const chosen: i32[] = [];
    for (let i = 0; i < this.waiting.length; i++) if (this.waiting[i] && !this.probing[i]) chosen.push(i);
    if (chosen.length > 0) this.probe(chosen, now);
  }

  private probe(chosen: i32[], now: i64): void {
    const slots = MAX_PROBES_IN_FLIGHT - this.probesInFlight;
    if (slots <= 0 || chosen.length == 0) return;
    const target = resolveTarget(this.cfg, this.readTarget());
    if (target == null) {
      if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "no probe target known yet: set failover.healthCheck.cluster");
      return;
    }
    const body = String.UTF8.encode(probeBody(this.cfg));
    for (let k = 0; k < chosen.length && k < slots; k++) {
      const i = chosen[k];
      const headers = probeHeaders(this.cfg, target, this.cfg.apiTokens[i]);
      if (this.probeMark.length > 0) headers.add(PROBE_MARK_HEADER, this.probeMark);
      if (!dispatchCall(target.cluster, headers, body, <u32>this.cfg.failover.healthCheckTimeout, new ProbeCall(this, i))) {
        if (logEnabled(LogLevel.Warn)) log(LogLevel.Warn, "probe of token " + fingerprint(i, this.store.ids[i]) + " could not be sent to cluster " + target.cluster);
        // Without a probe a suspect leaves as it would with no probes at all (the change reads
        // the record itself: this VM's view may not show the suspect yet).
        const t = this.store.token(i);
        if (t != null && !t.out) this.decide(i, true, false, t.lastStatus, -1, 0, now, "its probe could not be sent");
        return;
      }
      this.probing[i] = true;
      this.waiting[i] = false;
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
    const f = this.cfg.failover;
    const readsBody = f.healthCheck.successConditions.length > 0 || f.failureConditions.length > 0;
    const body = answer != null && readsBody ? answer.body(PROBE_BODY_LIMIT) : new ArrayBuffer(0);
    const v = judgeProbe(this.cfg.failover, status, answer != null ? answer.headers : null, body, now);
    const ok = v.kind == VerdictKind.Success;
    this.metrics.probe(i, ok);
    this.decide(i, answer != null, ok, status, v.rule, v.retryAfterAt, now, "confirmed by a probe");
    this.probeWaiting(now);
  }

  /** Counts a probe's outcome for token `i`; `how` says, in an ejection's log line, how it was decided. */
  private decide(i: i32, answered: bool, ok: bool, status: i32, rule: i32, retryAfterAt: i64, now: i64, how: string): void {
    const f = this.cfg.failover;
    const ids = this.store.ids;
    const change = new CountProbe(ids[i], answered, ok, status, f.successThreshold, now, retryAfterAt,
      <i64>f.cooldownDuration, ids, ejectionCap(ids.length, f.maxEjectionPercent), answered && !ok && isDeadFailure(f, status, rule), this.deadPace);
    if (this.store.update(change) != CasOutcome.Stored) return;
    if (change.verdict != ProbeVerdict.None) {
      this.settleSuspect(i, change, status, rule, now, how);
      return;
    }
    if (change.restored) {
      this.metrics.restored(i);
      this.metrics.inPool(this.store.inPoolCount);
      const shared = this.shared;
      if (shared != null) shared.publish([new KeyEvent("i", this.store.ids[i], now, 0, 0)]);
      if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + fingerprint(i, this.store.ids[i]) + " back in the pool after a successful probe");
    }
  }

  private settleSuspect(i: i32, change: CountProbe, status: i32, rule: i32, now: i64, how: string): void {
    const name = fingerprint(i, this.store.ids[i]);
    if (change.verdict == ProbeVerdict.Cleared) {
      this.clearedAt[i] = now;
      this.metrics.ejectionNotConfirmed();
      if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + name + " stays in the pool: its probe succeeded, so its failures were the requests'");
      return;
    }
    this.metrics.ejected(i);
    this.metrics.inPool(this.store.inPoolCount);
    const shared = this.shared;
    const t = this.store.token(i);
    if (shared != null && t != null) shared.publish([new KeyEvent("o", t.id, now, t.returnsAt, status)]);
    if (logEnabled(LogLevel.Info)) log(LogLevel.Info, "token " + name + " taken out of the pool " + ejectionReason(rule, status, change.retryAfterAt > now, how));
  }
}
