// One key's state in the pool record: membership, counters, rests and the evidence it gives about
// the provider. The key itself is only known by its 64-bit hash. Pure.
import { FULL_RATE } from "../base/rates";

/** What a quiet interval gives back to a key that was slowed down. */
export const RATE_STEP: i32 = 100;
/** The lowest share AIMD goes to, so a slowed key still gets some traffic to recover with. */
export const MIN_RATE: i32 = 16;

/** Rest of a key after a 429 without a usable Retry-After at base share, doubling with each halving. */
export const BACKOFF_REST_MS: i64 = 250;
/** The longest such rest. */
export const MAX_BACKOFF_REST_MS: i64 = 2000;

/**
 * How long a key whose share is `rateFactor` rests after a 429 that gave no wait time: so when
 * every key is throttled the plugin sends less for real (and answers 429 itself meanwhile)
 * instead of sending everything to whichever key has the largest share.
 */
export function backOffRestMs(rateFactor: i32): i64 {
  return min(MAX_BACKOFF_REST_MS, BACKOFF_REST_MS * <i64>FULL_RATE / <i64>max(1, rateFactor));
}

/** One token's state; the token itself is only known by its 64-bit hash. */
export class TokenState {
  id: u64 = 0;
  out: bool = false;
  /** Consecutive counted failures (reset by any success). */
  failures: i32 = 0;
  /**
   * Its failures reached the threshold and a probe decides whether they are the key's: the key
   * stays in the pool until the probe fails (answers from traffic can be a client's doing; a
   * probe carries nothing a client sent).
   */
  suspect: bool = false;
  /**
   * A suspect whose probe went at once: it is not chosen until the probe answers, unless no other
   * key is in. (A suspect probed later, on the lease holder's tick, keeps serving meanwhile.)
   */
  held: bool = false;
  /** Consecutive successful probes while out of the pool. */
  probeSuccesses: i32 = 0;
  /** When the token was taken out (ms), 0 while in the pool. */
  outSince: i64 = 0;
  /** When the token comes back by itself (cooldown or Retry-After, ms); 0: only a probe brings it back. */
  returnsAt: i64 = 0;
  /** Status of the last counted failure or failed probe, 0 if none. */
  lastStatus: i32 = 0;
  /**
   * The provider reported no requests or tokens left for this key until then (ms; 0: none). The
   * key stays in the pool but is not chosen before that time.
   */
  limitedUntil: i64 = 0;
  /**
   * Share of its weight and rate the key gets, in thousandths (AIMD): a 429 without a usable
   * Retry-After halves it, each quiet interval adds RATE_STEP back, up to 1000.
   */
  rateFactor: i32 = FULL_RATE;
  /** When the key last failed, counted against it or not (ms; 0: never). */
  failedAt: i64 = 0;
  /**
   * Evidence about the provider: when a request every attempt of which failed the provider's way
   * (429, 5xx, a failure rule) last tried this key (ms; 0: none since its last success), of which
   * kind (ProviderHealth), and who sent it (hashes of its body and of its affinity value), so
   * one client's requests alone never add up to a provider-wide state.
   */
  signalAt: i64 = 0;
  signalKind: i32 = 0;
  signalBody: u32 = 0;
  signalWho: u32 = 0;
  /** The request (hash of its body) whose answer set the current rest, for corroboration. */
  restBy: u32 = 0;
  /**
   * Out of the pool and dead (it left on 401, 403 or a failure rule marked dead: revoked, out of
   * credit), not tired (429, 5xx): it is probed at a growing interval, `deadProbes` failed probes
   * so far, the next one not before `nextProbeAt` (ms).
   */
  dead: bool = false;
  deadProbes: i32 = 0;
  nextProbeAt: i64 = 0;

  /** Whether the token serves requests at `now`: in the pool, or out with its return time passed. */
  isIn(now: i64): bool {
    return !this.out || (this.returnsAt > 0 && this.returnsAt <= now);
  }

  /** Whether the provider's rate limit keeps the key from being chosen at `now`. */
  isLimited(now: i64): bool {
    return this.limitedUntil > now;
  }

  /** Whether the key carries evidence about the provider, or a failure time, to keep in the record. */
  get hasEvidence(): bool { return this.failedAt > 0 || this.signalAt > 0 || this.restBy != 0; }

  /** A copy of every field (a change works on a copy of the view it read). */
  copy(): TokenState {
    const t = new TokenState();
    t.id = this.id;
    t.out = this.out;
    t.failures = this.failures;
    t.suspect = this.suspect;
    t.held = this.held;
    t.probeSuccesses = this.probeSuccesses;
    t.outSince = this.outSince;
    t.returnsAt = this.returnsAt;
    t.lastStatus = this.lastStatus;
    t.limitedUntil = this.limitedUntil;
    t.rateFactor = this.rateFactor;
    t.failedAt = this.failedAt;
    t.signalAt = this.signalAt;
    t.signalKind = this.signalKind;
    t.signalBody = this.signalBody;
    t.signalWho = this.signalWho;
    t.restBy = this.restBy;
    t.dead = this.dead;
    t.deadProbes = this.deadProbes;
    t.nextProbeAt = this.nextProbeAt;
    return t;
  }

  static fresh(id: u64): TokenState {
    const t = new TokenState();
    t.id = id;
    return t;
  }

  putBack(): void {
    this.out = false;
    this.dead = false;
    this.deadProbes = 0;
    this.nextProbeAt = 0;
    this.suspect = false;
    this.held = false;
    this.failures = 0;
    this.probeSuccesses = 0;
    this.outSince = 0;
    this.returnsAt = 0;
  }

  /** Takes the token out (until `returnsAt`; 0: until a probe); `dead`: its failure says it is dead. */
  takeOut(now: i64, returnsAt: i64, dead: bool = false): void {
    if (!this.out) this.outSince = now;
    if (dead && !this.dead) {
      this.dead = true;
      this.deadProbes = 0;
      this.nextProbeAt = 0;
    }
    this.out = true;
    this.suspect = false;
    this.held = false;
    this.probeSuccesses = 0;
    if (returnsAt > this.returnsAt) this.returnsAt = returnsAt;
  }
}
