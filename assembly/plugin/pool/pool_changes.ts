// The changes the plugin makes to a pool record, each applied inside a CAS loop.
import { DeadProbes, FailureOutcome, PoolChange, PoolState, ProbeVerdict } from "./pool_state";
import { restBound } from "./provider_signals";

/** Adds configured tokens that the record does not know yet (start-up and reload). */
export class AddTokens extends PoolChange {
  constructor(public ids: u64[]) { super(); }
  apply(state: PoolState): bool { return state.addMissing(this.ids); }
}

/** How many of `keys` configured keys passive evidence may take out at most (`maxEjectionPercent`). */
export function ejectionCap(keys: i32, maxEjectionPercent: i32): i32 {
  return keys * maxEjectionPercent / 100;
}

/**
 * Counts a failure of one token; `probed`: a probe decides whether it leaves (see
 * PoolState.recordFailure). A Retry-After from the answer to request `by` benches it within
 * restBound; `retryAfterAt` becomes the bench given.
 */
export class CountFailure extends PoolChange {
  outcome: FailureOutcome = FailureOutcome.Counted;
  constructor(public id: u64, public status: i32, public now: i64, public retryAfterAt: i64,
              public threshold: i32, public cooldownMs: i64, public configured: u64[], public maxOut: i32,
              public probed: bool, public hold: bool, public by: u32 = 0, public dead: bool = false) { super(); }
  apply(state: PoolState): bool {
    const i = state.indexOf(this.id);
    if (i < 0) return false;
    const mayEject = state.outAmong(this.configured, this.now) < this.maxOut;
    const t = state.tokens[i];
    if (this.retryAfterAt > this.now) {
      this.retryAfterAt = restBound(t, this.retryAfterAt, this.by, this.now);
      t.restBy = this.by;
    }
    this.outcome = state.recordFailure(i, this.status, this.now, this.retryAfterAt, this.threshold, this.cooldownMs, mayEject, this.probed, this.hold, this.dead);
    return true;
  }
}

/**
 * Resets one token's consecutive failures after a success, and brings it back if it was out;
 * `served` (a 2xx) also clears its evidence about the provider and ends a provider-wide state.
 */
export class CountSuccess extends PoolChange {
  /** The success put the token back in the pool. */
  restored: bool = false;
  /** The success ended a provider-wide state. */
  recovered: bool = false;
  constructor(public id: u64, public now: i64, public served: bool = false) { super(); }
  apply(state: PoolState): bool {
    const i = state.indexOf(this.id);
    if (i < 0) return false;
    this.restored = state.tokens[i].out && !state.tokens[i].isIn(this.now);
    this.recovered = this.served && !state.provider.ok;
    return state.recordSuccess(i, this.now, this.served);
  }
}

/**
 * Counts one probe result: for a token that is out, towards its return; for a suspect, whether
 * it leaves. `answered` false (the call failed) decides nothing about a suspect.
 */
export class CountProbe extends PoolChange {
  restored: bool = false;
  verdict: ProbeVerdict = ProbeVerdict.None;
  constructor(public id: u64, public answered: bool, public ok: bool, public status: i32, public successThreshold: i32,
              public now: i64, public retryAfterAt: i64, public cooldownMs: i64, public configured: u64[], public maxOut: i32,
              public dead: bool = false, public schedule: DeadProbes | null = null) { super(); }
  apply(state: PoolState): bool {
    const i = state.indexOf(this.id);
    if (i < 0) return false;
    const t = state.tokens[i];
    if (t.suspect) {
      if (!this.answered) return false;
      const mayEject = state.outAmong(this.configured, this.now) < this.maxOut;
      this.verdict = state.confirm(i, !this.ok, this.status, this.now, this.retryAfterAt, this.cooldownMs, mayEject, this.dead);
      return true;
    }
    const successesBefore = t.probeSuccesses;
    const statusBefore = t.lastStatus;
    const returnsBefore = t.returnsAt;
    const nextBefore = t.nextProbeAt;
    this.restored = state.recordProbe(i, this.ok, this.status, this.successThreshold, this.now, this.retryAfterAt, this.dead, this.schedule);
    return this.restored || t.probeSuccesses != successesBefore || t.lastStatus != statusBefore || t.returnsAt != returnsBefore ||
      t.nextProbeAt != nextBefore;
  }
}

/** Puts back every token whose cooldown or Retry-After has passed. */
export class RestoreDue extends PoolChange {
  restored: u64[] = [];
  constructor(public now: i64) { super(); }
  apply(state: PoolState): bool {
    this.restored = state.restoreDue(this.now);
    return this.restored.length > 0;
  }
}

/** Gives a step of share back to keys that were slowed down and had no 429 for an interval. */
export class Recover extends PoolChange {
  constructor(public ids: u64[]) { super(); }
  apply(state: PoolState): bool { return state.recover(this.ids); }
}
