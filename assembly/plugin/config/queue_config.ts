// The admission queue's configuration (top-level `queue`, off unless `enabled`): how many requests
// may wait across the workers, how long each priority waits, and what happens when the queue is
// full or a wait runs out (read by config_parse.ts). Pure.

/** Priorities, highest first; a request's index in this list is its rank. */
export const PRIORITIES = ["urgent", "high", "normal", "low"];
export const NORMAL: i32 = 2;

export enum WhenFull { Reject, Passthrough, DropLowest }
export enum WhenExpired { Reject, Passthrough }

export class QueueConfig {
  enabled: bool = false;
  /** Requests waiting at once, across the workers of the process. */
  maxWaiting: i32 = 500;
  /** Lower-case name of the header that carries a request's priority. */
  priorityHeader: string = "x-priority";
  /** How long a request of each priority waits at most (ms), by rank. */
  maxWaitMs: i32[] = [30_000, 30_000, 10_000, 2000];
  /** Per priority, by rank: the share (percent) of maxWaiting it may hold. */
  share: i32[] = [50, 50, 80, 100];
  whenFull: WhenFull = WhenFull.Reject;
  whenExpired: WhenExpired = WhenExpired.Reject;

  /** The rank of a priority header's value: a name (any case) or 1–4; missing or unknown: normal. */
  rankOf(value: string | null): i32 {
    if (value == null) return NORMAL;
    const v = value.trim().toLowerCase();
    for (let i = 0; i < PRIORITIES.length; i++) if (v == PRIORITIES[i]) return i;
    if (v.length == 1 && v.charCodeAt(0) >= 0x31 && v.charCodeAt(0) <= 0x34) return v.charCodeAt(0) - 0x31;
    return NORMAL;
  }
}
