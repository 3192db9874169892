// How the admission queue bounds what one priority can take, so a flood of urgent requests (a
// priority is what a client claims) cannot starve the others: each priority holds at most its
// share of the queue's places, and while a lower priority also waits anywhere in the process, the
// highest one gets only its share of the releases; on the others a lower waiter goes first (in
// this VM, or, where it waits in another, this VM holds its higher waiters back for a tick).
// Pure.
import { QueueConfig } from "../config/queue_config";
import { RANKS } from "./queue_record";
import { Random } from "../../util/random";
import { Waiter } from "./waiter";

/** Places a priority of `rank` may hold across the process. */
export function placesFor(cfg: QueueConfig, rank: i32): i32 {
  return max(1, <i32>((<i64>cfg.maxWaiting * <i64>cfg.share[rank] + 99) / 100));
}

/**
 * The rank owed the next release ahead of every higher one in the process (-1: none, strict
 * order), drawn so the highest waiting priority gets its share: the next lower rank that waits in
 * the process. `others[r]` counts the other VMs' waiters of rank r, `waiters` are this VM's.
 */
export function yieldTurn(cfg: QueueConfig, others: i32[], waiters: Waiter[], random: Random): i32 {
  const waiting = others.slice(0);
  for (let k = 0; k < waiters.length; k++) waiting[waiters[k].rank]++;
  let top = -1;
  for (let r = 0; r < RANKS && top < 0; r++) if (waiting[r] > 0) top = r;
  if (top < 0 || random.below(100) < cfg.share[top]) return -1;
  for (let r = top + 1; r < RANKS; r++) if (waiting[r] > 0) return r;
  return -1;
}
