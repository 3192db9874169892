// How the admission queue bounds what one priority can take (a priority is what a client claims):
// each priority holds at most its share of the queue's places, so a flood of urgent requests
// cannot take every place from the others. Pure.
import { QueueConfig } from "../config/queue_config";

/** Places a priority of `rank` may hold across the process. */
export function placesFor(cfg: QueueConfig, rank: i32): i32 {
  return max(1, <i32>((<i64>cfg.maxWaiting * <i64>cfg.share[rank] + 99) / 100));
}
