// What tells the provider's fault from a key's or a request's, applied to the pool record inside a
// CAS loop: evidence from requests that failed the provider's way on every key they tried, the
// provider-wide state it leads to, the pace slot while that state lasts, and rests from the
// provider's own per-key signals (Retry-After, rate-limit resets), bounded unless corroborated.
// Pure.
import { PoolChange, PoolState } from "./pool_state";
import { ProviderHealth, SIGNAL_WINDOW_MS } from "./provider_health";
import { TokenState } from "./token_state";

/**
 * The longest rest one request's answer gives a key. A longer Retry-After or reset is honoured
 * only when another request's answer repeats it within this long; otherwise the key is asked
 * again after it (a provider can refuse one request for reasons of that request alone).
 */
export const UNCORROBORATED_REST_MS: i64 = 10_000;

/** How a request's failure moved the provider's state. */
export const enum SignalOutcome { Recorded = 0, Entered = 1, Continued = 2 }

/**
 * The rest a key gets until `until` on the answer to request `by` (a hash of its body, 0:
 * unknown): whole when short, or when the key rested on another request's answer within the
 * last UNCORROBORATED_REST_MS; else cut to that bound.
 */
export function restBound(t: TokenState, until: i64, by: u32, now: i64): i64 {
  if (until <= now + UNCORROBORATED_REST_MS) return until;
  const restedUntil = max(t.limitedUntil, t.out ? t.returnsAt : 0);
  const corroborated = t.restBy != 0 && by != 0 && t.restBy != by && restedUntil > now - UNCORROBORATED_REST_MS;
  return corroborated ? until : now + UNCORROBORATED_REST_MS;
}

/**
 * Marks keys `tried` (indices of the record) with a request every attempt of which failed the
 * provider's way (`kind`, `status`, the failure rule `rule` or -1), from body hash `body` and
 * affinity hash `who` (0: none). The provider becomes limited or failing when every key of
 * `configured` that is in the pool carries such evidence within SIGNAL_WINDOW_MS, from requests
 * with more than one body and, when they carry an affinity value, more than one of those: one
 * client's requests alone never do it.
 */
export function recordSignal(state: PoolState, tried: i32[], kind: ProviderHealth, status: i32, rule: i32, body: u32, who: u32,
                             configured: u64[], now: i64): SignalOutcome {
  for (let k = 0; k < tried.length; k++) {
    const t = state.tokens[tried[k]];
    t.signalAt = now;
    t.signalKind = kind;
    t.signalBody = body;
    t.signalWho = who;
    t.lastStatus = status;
    t.failedAt = now;
  }
  const p = state.provider;
  if (!p.ok) {
    p.failedAgain(kind, status, rule, now);
    return SignalOutcome.Continued;
  }
  let keys = 0;
  let worst = kind;
  let bodies = false;
  let whos = false;
  let anyWho = false;
  let firstBody: u32 = 0;
  let firstWho: u32 = 0;
  for (let c = 0; c < configured.length; c++) {
    const i = state.indexOf(configured[c]);
    if (i < 0) continue;
    const t = state.tokens[i];
    if (!t.isIn(now)) continue;
    if (t.signalAt == 0 || now - t.signalAt > SIGNAL_WINDOW_MS) return SignalOutcome.Recorded;
    if (keys == 0) {
      firstBody = t.signalBody;
      firstWho = t.signalWho;
    }
    keys++;
    if (t.signalKind > worst) worst = t.signalKind;
    if (t.signalBody != firstBody) bodies = true;
    if (t.signalWho != firstWho) whos = true;
    if (t.signalWho != 0) anyWho = true;
  }
  if (keys == 0 || !bodies || (anyWho && !whos)) return SignalOutcome.Recorded;
  p.enter(worst, status, rule, now);
  return SignalOutcome.Entered;
}

/** Records a request's failure the provider's way (see recordSignal). */
export class CountSignal extends PoolChange {
  outcome: SignalOutcome = SignalOutcome.Recorded;
  /** The provider's state before the change. */
  before: ProviderHealth = ProviderHealth.Ok;
  constructor(public ids: u64[], public kind: ProviderHealth, public status: i32, public rule: i32, public body: u32,
              public who: u32, public configured: u64[], public now: i64) { super(); }
  apply(state: PoolState): bool {
    const tried: i32[] = [];
    for (let k = 0; k < this.ids.length; k++) {
      const i = state.indexOf(this.ids[k]);
      if (i >= 0 && !tried.includes(i)) tried.push(i);
    }
    if (tried.length == 0) return false;
    this.before = state.provider.health;
    this.outcome = recordSignal(state, tried, this.kind, this.status, this.rule, this.body, this.who, this.configured, this.now);
    return true;
  }
}

/** Takes the provider's pace slot for one request while it is limited or failing; `granted` says whether it may go. */
export class ClaimPace extends PoolChange {
  granted: bool = false;
  constructor(public now: i64) { super(); }
  apply(state: PoolState): bool {
    const p = state.provider;
    if (p.ok) {
      this.granted = true;
      return false;
    }
    this.granted = p.claim(this.now);
    return this.granted;
  }
}

/**
 * The provider said key `id` has nothing left until `until`, in the answer to request `by`: no
 * VM chooses it before then, within restBound. `until` becomes the rest given.
 */
export class RestUntil extends PoolChange {
  constructor(public id: u64, public until: i64, public by: u32, public now: i64) { super(); }
  apply(state: PoolState): bool {
    const i = state.indexOf(this.id);
    if (i < 0) return false;
    const t = state.tokens[i];
    const until = restBound(t, this.until, this.by, this.now);
    this.until = until;
    if (until <= t.limitedUntil) return false;
    t.limitedUntil = until;
    t.restBy = this.by;
    return true;
  }
}
