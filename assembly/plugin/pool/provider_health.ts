// The provider's side of a pool record: whether the provider (or the account behind every key)
// is the problem, and how the plugin paces it meanwhile. Pure.

/** Whether the provider serves, limits every key (429s) or fails every key (5xx, failure rules). */
export const enum ProviderHealth { Ok = 0, Limited = 1, Failing = 2 }

/** The first rest between paced requests once the provider is limited or failing. */
export const PROVIDER_REST_MS: i64 = 1000;
/** The longest such rest: the interval doubles while the state lasts, up to this. */
export const MAX_PROVIDER_REST_MS: i64 = 30_000;
/** Evidence older than this says nothing about the provider now. */
export const SIGNAL_WINDOW_MS: i64 = 10_000;

/** The name of a provider state in the status document, metrics and logs. */
export function healthName(h: ProviderHealth): string {
  return h == ProviderHealth.Limited ? "limited" : h == ProviderHealth.Failing ? "failing" : "ok";
}

export class ProviderState {
  health: ProviderHealth = ProviderHealth.Ok;
  /** When the current state began (ms; 0: never left ok). */
  since: i64 = 0;
  /** The status that decided the state (the last one seen while it lasts). */
  lastStatus: i32 = 0;
  /** Index of the failure rule that decided it (-1: the status alone). */
  rule: i32 = -1;
  /** Current rest between paced requests (ms). */
  restMs: i64 = 0;
  /** No request goes to the provider before this time (ms) while the state lasts: the pace slot. */
  nextSendAt: i64 = 0;
  /** When the rest last grew (ms). */
  grewAt: i64 = 0;

  get ok(): bool { return this.health == ProviderHealth.Ok; }

  copy(): ProviderState {
    const p = new ProviderState();
    p.health = this.health;
    p.since = this.since;
    p.lastStatus = this.lastStatus;
    p.rule = this.rule;
    p.restMs = this.restMs;
    p.nextSendAt = this.nextSendAt;
    p.grewAt = this.grewAt;
    return p;
  }

  /** Enters `health` at `now`: the provider gets nothing for a first rest. */
  enter(health: ProviderHealth, status: i32, rule: i32, now: i64): void {
    this.health = health;
    this.since = now;
    this.lastStatus = status;
    this.rule = rule;
    this.restMs = PROVIDER_REST_MS;
    this.grewAt = now;
    this.nextSendAt = now + PROVIDER_REST_MS;
  }

  /** Another failure the provider's way while the state lasts: the rest doubles, at most once a rest. */
  failedAgain(health: ProviderHealth, status: i32, rule: i32, now: i64): void {
    if (health > this.health) this.health = health;
    this.lastStatus = status;
    this.rule = rule;
    if (now - this.grewAt < this.restMs) return;
    this.restMs = min(MAX_PROVIDER_REST_MS, this.restMs * 2);
    this.grewAt = now;
    if (this.nextSendAt < now + this.restMs) this.nextSendAt = now + this.restMs;
  }

  /** A success: the provider serves again. Returns whether the state changed. */
  recovered(now: i64): bool {
    if (this.ok) return false;
    this.health = ProviderHealth.Ok;
    this.since = now;
    this.restMs = 0;
    this.nextSendAt = 0;
    this.grewAt = 0;
    return true;
  }

  /**
   * Takes the pace slot at `now` for one request: true when it is free (the next one opens a rest
   * later), false while another request holds it.
   */
  claim(now: i64): bool {
    if (this.ok) return true;
    if (this.nextSendAt > now) return false;
    this.nextSendAt = now + this.restMs;
    return true;
  }
}
