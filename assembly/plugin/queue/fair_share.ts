// How the admission queue bounds what one priority can take (a priority is what a client claims):
// each priority holds at most its share of the queue's places, and of the releases that chose
// between priorities, so a flood of urgent requests can neither take every place nor every
// release from the others. Pure.
import { QueueConfig } from "../config/queue_config";
import { RANKS, lowestBelow } from "./queue_record";

/** Places a priority of `rank` may hold across the process. */
export function placesFor(cfg: QueueConfig, rank: i32): i32 {
  return max(1, <i32>((<i64>cfg.maxWaiting * <i64>cfg.share[rank] + 99) / 100));
}

/**
 * Whether `rank` has taken more than its share of the recent releases `released` (by rank, the
 * process's): then a lower priority that waits goes before it.
 */
export function overShare(cfg: QueueConfig, rank: i32, released: i32[]): bool {
  const share = cfg.share[rank];
  if (share >= 100) return false;
  let total: i64 = 0;
  for (let r = 0; r < RANKS; r++) total += released[r];
  return total > 0 && <i64>released[rank] * 100 > <i64>share * total;
}

/** Whether a waiter of a rank below `rank` is counted in `counts` (by rank). */
export function lowerWaits(counts: i32[], rank: i32): bool { return lowestBelow(counts, rank) >= 0; }

/** Whether a waiter of a rank other than `rank` is counted in `counts`. */
export function otherWaits(counts: i32[], rank: i32): bool {
  for (let r = 0; r < RANKS; r++) if (r != rank && counts[r] > 0) return true;
  return false;
}
