// How the admission queue bounds what one priority can take, so a flood of urgent requests (a
// priority is what a client claims) cannot starve the others: each priority holds at most its
// share of the queue's places, and while the highest waiting priority has a share under 100%, a
// waiter below it that has waited half its wait (aged) goes ahead of it, oldest first, anywhere
// in the process. Shares of 100 keep strict priority order. Pure.
import { QueueConfig } from "../config/queue_config";
import { QueueEntry, RANKS, STALE_MS } from "./queue_record";
import { Waiter } from "./waiter";

/** Places a priority of `rank` may hold across the process. */
export function placesFor(cfg: QueueConfig, rank: i32): i32 {
  return max(1, <i32>((<i64>cfg.maxWaiting * <i64>cfg.share[rank] + 99) / 100));
}

/** The highest rank waiting in the process (`others`: the other VMs' counts; RANKS: none). */
export function topRank(others: i32[], waiters: Waiter[]): i32 {
  let top = RANKS;
  for (let r = 0; r < RANKS; r++) if (others[r] > 0 && r < top) top = r;
  for (let k = 0; k < waiters.length; k++) if (waiters[k].rank < top) top = waiters[k].rank;
  return top;
}

/** Whether `w` goes ahead of the higher priorities at `now`: it waited half its wait, below a bounded `top`. */
export function aged(cfg: QueueConfig, w: Waiter, top: i32, now: i64): bool {
  return w.rank > top && top < RANKS && cfg.share[top] < 100 && (now - w.since) * 2 >= <i64>cfg.maxWaitMs[w.rank];
}

/**
 * Whether another VM (an entry of `entries` other than `tag`) holds waiters below a bounded `top`
 * since long enough to be aged: its oldest waiter is at least half the wait of its lowest rank.
 */
export function agedElsewhere(cfg: QueueConfig, entries: QueueEntry[], tag: string, top: i32, now: i64): bool {
  if (top >= RANKS || cfg.share[top] == 100) return false;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.tag == tag || now - e.at > STALE_MS) continue;
    const lowest = e.lowestBelow(top);
    if (lowest >= 0 && e.oldestSince > 0 && (now - e.oldestSince) * 2 >= <i64>cfg.maxWaitMs[lowest]) return true;
  }
  return false;
}
