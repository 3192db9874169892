// Changes of key state this process tells the other gateway replicas about, and what it asks of
// the link to them (replica/replica_link.ts implements it; without Redis there is none).
import { CountFailure } from "./pool_changes";
import { FailureOutcome, TokenState } from "./pool_state";

/**
 * One key's change: "o" out at `at` until `x` (0: until a probe) with status `y`; "i" back in at
 * `at`; "l" limited until `x`; "f" share `x` (thousandths) from `at`.
 */
export class KeyEvent {
  constructor(public kind: string, public id: u64, public at: i64, public x: i64, public y: i64) {}
}

/** The pool as other replicas share it. */
export abstract class SharedPool {
  /** Sends changes at once (they are also read back on the next sync). */
  abstract publish(events: KeyEvent[]): void;
  /**
   * Whether this process does the pool-wide background work (probes, giving shares back): it holds
   * the replicas' probe lease, or it cannot reach the others and works alone.
   */
  abstract worksHere(): bool;
  /** How often the lease holder syncs (ms). */
  abstract get syncInterval(): i32;
  /** The lease holder's sync with the others, on its tick. */
  abstract sync(now: i64): void;
  /** The status document's `replicas` field. */
  abstract statusJson(now: i64): string;
}

/** What a counted failure changed that the other replicas keep too: the ejection, a slower share and its rest. */
export function failureEvents(t: TokenState, change: CountFailure, factorBefore: i32): KeyEvent[] {
  const events: KeyEvent[] = [];
  if (change.outcome == FailureOutcome.Ejected) events.push(new KeyEvent("o", t.id, change.now, t.returnsAt, change.status));
  if (t.rateFactor != factorBefore) {
    events.push(new KeyEvent("f", t.id, change.now, t.rateFactor, 0));
    events.push(new KeyEvent("l", t.id, 0, t.limitedUntil, 0));
  }
  return events;
}
