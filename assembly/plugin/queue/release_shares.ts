// Which waiter goes first when a key has room, under the release shares (fair_share.ts): a
// priority within its share of the recent releases goes before lower ones, as always; one over it
// lets a lower priority that waits go first, in this VM at once and in another VM for HOLD_MS,
// so under a flood that never ends the lower priorities still advance, at the bounded pace.
import { QueueConfig } from "../config/queue_config";
import { lowerWaits, otherWaits, overShare } from "./fair_share";
import { QueueTotals } from "./queue_record";
import { ReleaseWindow } from "./release_window";

/** How long a waiter over its share leaves a key's room to a lower waiter of another VM (two ticks). */
export const HOLD_MS: i64 = 100;
/** A view of the other VMs read longer ago than this says nothing a newcomer can act on. */
const VIEW_MS: i64 = 200;

export class ReleaseShares {
  /** This VM's releases that chose between priorities. */
  readonly window: ReleaseWindow = new ReleaseWindow();
  /** This VM's waiters, by rank. */
  readonly own: i32[] = [0, 0, 0, 0];
  /** The other VMs' waiters and releases as last read, and when (0: never). */
  private others: QueueTotals = new QueueTotals();
  private seenAt: i64 = 0;
  /** The process's releases that still count, by rank, as of `releasedAt` (-1: to be added up again). */
  private releasedSum: i32[] = [0, 0, 0, 0];
  private releasedAt: i64 = -1;

  constructor(private cfg: QueueConfig) {}

  /** The other VMs as the queue record read at `now` shows them. */
  seen(others: QueueTotals, now: i64): void {
    this.others = others;
    this.seenAt = now;
    this.releasedAt = -1;
  }

  /** Whether `rank` has taken more than its share of the process's recent releases. */
  over(rank: i32, now: i64): bool {
    if (this.cfg.share[rank] >= 100) return false;
    // Added up once per tick (and after each release), not once per waiter asked.
    if (this.releasedAt != now) {
      const sum = this.releasedSum;
      for (let r = 0; r < sum.length; r++) sum[r] = this.others.released[r];
      this.window.addTo(sum, now);
      this.releasedAt = now;
    }
    return overShare(this.cfg, rank, this.releasedSum);
  }

  /** Whether a waiter of `rank` gives way: its priority is over its share, and a lower one waits. */
  givesWay(rank: i32, now: i64): bool { return this.lowerWaits(rank) && this.over(rank, now); }

  /** Whether a waiter ranked below `rank` waits in this VM or (as last read) in another. */
  lowerWaits(rank: i32): bool { return lowerWaits(this.own, rank) || lowerWaits(this.others.counts, rank); }

  /**
   * Whether a waiter of `rank` due since `dueAt` leaves the room to another VM now: to a higher
   * waiter there within its share, or, while its own rank is over its share, for HOLD_MS to a
   * lower waiter there.
   */
  heldElsewhere(rank: i32, dueAt: i64, now: i64): bool {
    const counts = this.others.counts;
    for (let r = 0; r < rank; r++) if (counts[r] > 0 && !this.over(r, now)) return true;
    return now < dueAt + HOLD_MS && lowerWaits(counts, rank) && this.over(rank, now);
  }

  /** A waiter of `rank` was released at `now` (after leaving `own`): counted when another priority waited. */
  released(rank: i32, now: i64): void {
    if (!otherWaits(this.own, rank) && !otherWaits(this.others.counts, rank)) return;
    this.window.add(rank, now);
    this.releasedAt = -1;
  }

  /**
   * Whether a newcomer of `rank` waits its turn though a key may have room: its priority is over
   * its share and a lower one waits (as this VM saw it within VIEW_MS).
   */
  yields(rank: i32, now: i64): bool {
    return now - this.seenAt <= VIEW_MS && this.givesWay(rank, now);
  }
}
