// A request waiting in the admission queue, what the queue asks of it, and a VM's waiters as its
// entry in the queue record counts them. Pure.
import { QueueEntry } from "./queue_record";

/** What the queue asks of a waiting request; its stream is effective during each call. */
export abstract class WaitTicket {
  /** Tries to send the request now: true when it went, else false (see retryAt). */
  abstract tryNow(now: i64): bool;
  /** When trying again makes sense (ms; 0: at the next tick), after a tryNow that failed. */
  abstract get retryAt(): i64;
  /** The wait ran out: send it with the key due back first (`passThrough`), or answer 429. */
  abstract expire(passThrough: bool): void;
  /** Made room for a higher request (drop_lowest): answer 429. */
  abstract drop(): void;
}

export enum Admission { Waiting, Refused, PassThrough }

export class Waiter {
  retryAt: i64 = 0;
  /** Put off by this tick's first pass: its priority is over its share and a lower one waits. */
  deferred: bool = false;
  constructor(readonly streamId: u32, readonly rank: i32, readonly since: i64, readonly deadline: i64, readonly ticket: WaitTicket) {}
}

/** The entry of the VM tagged `tag` whose waiters are `waiters`, written at `now`. */
export function entryOf(tag: string, waiters: Waiter[], now: i64): QueueEntry {
  const e = new QueueEntry(tag, 0, now);
  for (let k = 0; k < waiters.length; k++) {
    const w = waiters[k];
    e.counts[w.rank]++;
    if (e.oldestSince == 0 || w.since < e.oldestSince) e.oldestSince = w.since;
  }
  return e;
}
