// The state of one token pool, as stored in one shared-data record: every token's membership and
// counters live together, so a token moves in or out in a single CAS write. Pure: no host calls.
import { MIN_RATE, RATE_STEP, TokenState, backOffRestMs } from "./token_state";
import { FULL_RATE } from "../base/rates";
import { ProviderState } from "./provider_health";
import { FailoverConfig } from "../config/config";

export { RATE_STEP, TokenState } from "./token_state";

/** What a counted failure did to its token: counted only, taken out, or made a suspect for a probe to judge. */
export const enum FailureOutcome { Counted = 0, Ejected = 1, Suspected = 2 }

/** What a probe of a suspect decided: nothing (it was no suspect), out, or its failures dropped. */
export const enum ProbeVerdict { None = 0, Ejected = 1, Cleared = 2 }

/** Every token of a pool (including tokens a newer or older configuration no longer lists). */
export class PoolState {
  tokens: TokenState[] = [];
  /** Whether the provider is the problem, and its pacing. */
  provider: ProviderState = new ProviderState();

  /** Index of the token with this id, or -1. */
  indexOf(id: u64): i32 {
    for (let i = 0; i < this.tokens.length; i++) if (unchecked(this.tokens[i]).id == id) return i;
    return -1;
  }

  /** Adds the ids that are missing, in the pool; returns whether anything was added. */
  addMissing(ids: u64[]): bool {
    let added = false;
    for (let i = 0; i < ids.length; i++) {
      if (this.indexOf(ids[i]) < 0) {
        this.tokens.push(TokenState.fresh(ids[i]));
        added = true;
      }
    }
    return added;
  }

  /**
   * Counts a failure of token `i`. `retryAfterAt` > 0 (a 429's Retry-After) takes it out at once
   * until then; otherwise, when its consecutive failures reach `threshold` and `mayEject` (the
   * ejection cap is not reached), it becomes a suspect when `probed` (a probe decides, see
   * confirm; `hold`: it is not chosen meanwhile), else it goes out, for `cooldownMs` when that
   * is > 0, else until probes or a successful answer bring it back.
   */
  recordFailure(i: i32, status: i32, now: i64, retryAfterAt: i64, threshold: i32, cooldownMs: i64, mayEject: bool = true,
                probed: bool = false, hold: bool = false, dead: bool = false): FailureOutcome {
    this.settleDue(i, now);
    const t = this.tokens[i];
    const wasOut = t.out;
    t.failures++;
    t.lastStatus = status;
    t.failedAt = now;
    // A 429 with no usable wait time: the key is slowed down (AIMD), and rests in proportion.
    if (status == 429 && retryAfterAt <= now) {
      this.backOff(i);
      this.limitUntil(i, now + backOffRestMs(t.rateFactor));
    }
    if (retryAfterAt > now) {
      t.takeOut(now, retryAfterAt);
    } else if (!t.out && t.failures >= threshold && mayEject) {
      if (!probed) t.takeOut(now, cooldownMs > 0 ? now + cooldownMs : 0, dead);
      else if (!t.suspect) {
        t.suspect = true;
        t.held = hold;
        return FailureOutcome.Suspected;
      }
    }
    return !wasOut && t.out ? FailureOutcome.Ejected : FailureOutcome.Counted;
  }

  /**
   * A probe of suspect `i` answered: `failed` takes it out (while `mayEject`; a Retry-After on
   * the probe, `retryAfterAt` > now, sets its return), otherwise its failures were the requests'
   * and are dropped.
   */
  confirm(i: i32, failed: bool, status: i32, now: i64, retryAfterAt: i64, cooldownMs: i64, mayEject: bool, dead: bool = false): ProbeVerdict {
    const t = this.tokens[i];
    if (!t.suspect || t.out) return ProbeVerdict.None;
    // Dead when the probe says so, or the failures that made it a suspect did (401, 403).
    const isDead = dead || isDeadStatus(t.lastStatus);
    t.suspect = false;
    t.held = false;
    if (!failed) {
      t.failures = 0;
      return ProbeVerdict.Cleared;
    }
    t.lastStatus = status;
    if (!mayEject && retryAfterAt <= now) return ProbeVerdict.None;
    t.takeOut(now, retryAfterAt > now ? retryAfterAt : cooldownMs > 0 ? now + cooldownMs : 0, isDead && retryAfterAt <= now);
    return ProbeVerdict.Ejected;
  }

  /** How many of the tokens `ids` are out of the pool at `now`. */
  outAmong(ids: u64[], now: i64): i32 {
    let n = 0;
    for (let k = 0; k < ids.length; k++) {
      const i = this.indexOf(ids[k]);
      if (i >= 0 && !this.tokens[i].isIn(now)) n++;
    }
    return n;
  }

  /**
   * Puts token `i` back when its return time has passed. Requests already use such a token (see
   * TokenState.isIn); every change applies this first, so the record never contradicts them.
   */
  settleDue(i: i32, now: i64): bool {
    const t = this.tokens[i];
    if (!t.out || t.returnsAt == 0 || t.returnsAt > now) return false;
    t.putBack();
    return true;
  }

  /**
   * A response that is not a failure resets the consecutive count, and a token that was out is
   * back (it just served a request); `served` (a 2xx) also clears the key's evidence about the
   * provider and ends a provider-wide state. Returns whether anything changed.
   */
  recordSuccess(i: i32, now: i64, served: bool = false): bool {
    let changed = this.settleDue(i, now);
    const t = this.tokens[i];
    if (served) {
      if (t.signalAt > 0) {
        t.signalAt = 0;
        changed = true;
      }
      if (this.provider.recovered(now)) changed = true;
    }
    if (t.out) {
      t.putBack();
      return true;
    }
    if (t.failures == 0 && !t.suspect) return changed;
    t.failures = 0;
    t.suspect = false;
    t.held = false;
    return true;
  }

  /**
   * Counts one probe of token `i`; returns true when this puts the token back. A failed probe
   * answered with a Retry-After (`retryAfterAt` > now) makes the token wait until then.
   */
  recordProbe(i: i32, ok: bool, status: i32, successThreshold: i32, now: i64, retryAfterAt: i64, dead: bool = false,
              schedule: DeadProbes | null = null): bool {
    const t = this.tokens[i];
    if (!t.out) return false;
    if (!ok) {
      t.probeSuccesses = 0;
      t.lastStatus = status;
      if (retryAfterAt > now && retryAfterAt > t.returnsAt) t.returnsAt = retryAfterAt;
      if (dead && !t.dead) t.takeOut(now, 0, true);
      // A dead key is probed less and less often: each failed probe doubles the wait, up to the cap.
      if (t.dead && schedule != null) {
        // Saturated: the wait stops growing long before, and the record keeps it small.
        t.deadProbes = min(t.deadProbes + 1, 64);
        t.nextProbeAt = now + schedule.after(t.deadProbes);
      }
      return false;
    }
    t.probeSuccesses++;
    if (t.probeSuccesses < successThreshold) return false;
    t.putBack();
    return true;
  }

  /** Halves token `i`'s share after a 429 that gave no usable wait time. */
  backOff(i: i32): void {
    const t = this.tokens[i];
    t.rateFactor = max(MIN_RATE, t.rateFactor / 2);
  }

  /** Gives a step of share back to each token in `ids`; returns whether anything changed. */
  recover(ids: u64[]): bool {
    let changed = false;
    for (let k = 0; k < ids.length; k++) {
      const i = this.indexOf(ids[k]);
      if (i < 0) continue;
      const t = this.tokens[i];
      if (t.rateFactor >= FULL_RATE) continue;
      t.rateFactor = min(FULL_RATE, t.rateFactor + RATE_STEP);
      changed = true;
    }
    return changed;
  }

  /** Keeps token `i` from being chosen until `until` (its rate-limit reset); returns whether it changed. */
  limitUntil(i: i32, until: i64): bool {
    const t = this.tokens[i];
    if (until <= t.limitedUntil) return false;
    t.limitedUntil = until;
    return true;
  }

  /** Puts back every token whose cooldown or Retry-After has passed; returns their ids. */
  restoreDue(now: i64): u64[] {
    const restored: u64[] = [];
    for (let i = 0; i < this.tokens.length; i++) {
      const t = this.tokens[i];
      if (t.out && t.returnsAt > 0 && t.returnsAt <= now) {
        t.putBack();
        restored.push(t.id);
      }
    }
    return restored;
  }
}

/** A change to apply to the pool state inside a CAS loop. */
export abstract class PoolChange {
  /** Applies the change; returns false when nothing changed (no write needed). */
  abstract apply(state: PoolState): bool;
}

/** Whether a failure with `status` says the key is dead (invalid, revoked, not allowed) rather than tired. */
export function isDeadStatus(status: i32): bool { return status == 401 || status == 403; }

/** Whether a failure with `status` (and failure rule `rule`, -1: none) says its key is dead rather than tired. */
export function isDeadFailure(f: FailoverConfig, status: i32, rule: i32): bool {
  return isDeadStatus(status) || (rule >= 0 && rule < f.failureConditions.length && f.failureConditions[rule].dead);
}

/** The probe pace of dead keys: healthCheckInterval, doubling after each failed probe, up to maxProbeInterval. */
export class DeadProbes {
  private maxMs: i64;
  constructor(private intervalMs: i64, maxMs: i64) { this.maxMs = max(maxMs, intervalMs); }
  /** The wait before the next probe of a dead key that failed `failed` probes. */
  after(failed: i32): i64 {
    let wait = this.intervalMs;
    for (let k = 0; k < failed && wait < this.maxMs; k++) wait *= 2;
    return min(wait, this.maxMs);
  }
}
