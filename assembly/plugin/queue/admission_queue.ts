// The admission queue of one configuration in one VM: requests that no key can serve now wait,
// paused before they leave for the provider, and are released highest priority first, oldest
// first within a priority, as budget comes back, within the release shares (release_shares.ts);
// every waiter ends by its deadline. Places are counted across the workers through one shared
// record (QueueEntry per VM), and a VM whose waiters rank below a waiter elsewhere leaves the
// budget to it.
//
// Shared-data operations: admitting a request is one read and one CAS write of the queue record;
// while anything waits, a tick (50 ms) reads it once when a waiter is due to be tried (when its
// keys may have room again) and writes it at most once (releases, expiries and departures of
// that tick together, and a heartbeat every second); trying a waiter is one key choice (the pool
// generation read; a budget lease only when the local one ran out).
import { LogLevel } from "../../abi/enums";
import { setEffectiveContext } from "../../runtime/host";
import { log, logEnabled } from "../../runtime/log";
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { QueueConfig, WhenExpired, WhenFull } from "../config/queue_config";
import { QUEUE_RECORD } from "../base/shared_record";
import { Outcome, QueueMetrics } from "./queue_metrics";
import { QueueEntry, QueueTotals, STALE_MS, decodeQueue, encodeQueue } from "./queue_record";
import { placesFor } from "./fair_share";
import { ReleaseShares } from "./release_shares";
import { Admission, WaitTicket, Waiter, entryOf } from "./waiter";

const HEARTBEAT_MS: i64 = 1000;
const NO_ENTRIES: QueueEntry[] = [];

export class AdmissionQueue {
  /** This VM's waiters, by rank then age. */
  private waiters: Waiter[] = [];
  private key: ArrayBuffer;
  private lastWrite: i64 = 0;
  private dirty: bool = false;
  /** Of the drops other VMs asked of this one (its entry's `drops`), how many it has carried out. */
  dropsDone: i32 = 0;
  /** Which waiter goes first when a key has room. */
  private shares: ReleaseShares;

  constructor(readonly cfg: QueueConfig, prefix: string, private tag: string, private metrics: QueueMetrics) {
    this.key = String.UTF8.encode(prefix + ":queue");
    this.shares = new ReleaseShares(cfg);
  }

  /** Requests waiting in this VM. */
  get count(): i32 { return this.waiters.length; }

  /** The wait of a request of `rank` that arrives at `now` ends then. */
  deadlineFor(rank: i32, now: i64): i64 { return now + <i64>this.cfg.maxWaitMs[rank]; }

  /**
   * Whether a newcomer of `rank` waits its turn behind a lower priority though a key may have room
   * (its priority is over its share of the releases): then it asks for a place with `yielding`.
   */
  yields(rank: i32, now: i64): bool { return this.waiters.length > 0 && this.shares.yields(rank, now); }

  /**
   * Gives a request a place (or, with whenFull, decides what else happens to it). `retryAt`: when
   * its key choice may succeed; `yielding`: it could go now but waits its turn, so it takes a
   * free place only. Waiting: the caller pauses the request.
   */
  admit(streamId: u32, rank: i32, now: i64, retryAt: i64, ticket: WaitTicket, yielding: bool = false): Admission {
    const w = new Waiter(streamId, rank, now, this.deadlineFor(rank, now), ticket);
    w.retryAt = retryAt;
    const dropping = !yielding && this.cfg.whenFull == WhenFull.DropLowest;
    let placed = this.claim(rank, now, false);
    // drop_lowest: a lower waiter of this VM makes room at once; else one of another VM is asked
    // to (it does at its next tick), and the newcomer waits meanwhile.
    if (!placed && dropping) {
      placed = this.dropBelow(rank, now);
      // Dropping answered another stream: the newcomer's is effective again.
      if (placed) setEffectiveContext(streamId);
      else placed = this.claim(rank, now, true);
    }
    if (!placed) return this.cfg.whenFull == WhenFull.Passthrough ? Admission.PassThrough : Admission.Refused;
    insertByRank(this.waiters, w);
    this.moved(rank, 1);
    // The claim wrote this VM's entry: the heartbeat counts from here.
    this.lastWrite = now;
    return Admission.Waiting;
  }

  /** The client of stream `id` left while waiting: its place is free at once. */
  leave(id: u32, now: i64): void {
    const k = this.indexOf(id);
    if (k < 0) return;
    this.end(k, Outcome.ClientLeft, now);
    this.publish(now);
  }

  /**
   * Root tick (`rootId`'s context effective): ends the waits that ran out and tries the others in
   * order, each with its stream effective; the root is effective again after.
   */
  run(now: i64, rootId: u32): void {
    if (this.waiters.length == 0) return;
    // The record is read only when some waiter is due to be tried, or another VM may ask this one
    // to drop a waiter (ends need no read).
    let due = this.cfg.whenFull == WhenFull.DropLowest;
    for (let k = 0; k < this.waiters.length && !due; k++) due = this.waiters[k].retryAt <= now;
    const entries = due ? entriesOf(readShared(this.key)) : NO_ENTRIES;
    if (due) this.shares.seen(QueueTotals.of(entries, now, this.tag), now);
    this.dropAsked(entries, now);
    // The priorities within their share first; those over it after every lower waiter had its try.
    if (this.pass(now, false)) this.pass(now, true);
    setEffectiveContext(rootId);
    if (this.dirty || (this.waiters.length > 0 && now - this.lastWrite >= HEARTBEAT_MS)) this.publish(now);
  }

  // One pass over the waiters in order: ends the waits that ran out and tries the waiters due
  // (`deferred`: only those the first pass put off). Returns whether it put one off.
  private pass(now: i64, deferred: bool): bool {
    const shares = this.shares;
    let putOff = false;
    let k = 0;
    while (k < this.waiters.length) {
      const w = this.waiters[k];
      const expired = now >= w.deadline;
      let tried = !expired && w.retryAt <= now && (!deferred || w.deferred) && !shares.heldElsewhere(w.rank, w.retryAt, now);
      if (tried && !deferred && shares.givesWay(w.rank, now)) {
        w.deferred = true;
        putOff = true;
        tried = false;
      } else if (tried) {
        w.deferred = false;
      }
      // Only a waiter acted on costs a host call: its stream is made effective.
      if ((expired || tried) && !setEffectiveContext(w.streamId)) {
        // The stream is gone without a delete callback reaching this queue: free its place.
        this.end(k, Outcome.ClientLeft, now);
        continue;
      }
      if (expired) {
        const passThrough = this.cfg.whenExpired == WhenExpired.Passthrough;
        this.end(k, passThrough ? Outcome.PassedThrough : Outcome.Expired, now);
        w.ticket.expire(passThrough);
        continue;
      }
      if (tried) {
        if (w.ticket.tryNow(now)) {
          this.end(k, Outcome.Released, now);
          shares.released(w.rank, now);
          continue;
        }
        w.retryAt = w.ticket.retryAt;
      }
      k++;
    }
    return putOff;
  }

  /** The outcome of a request that never waited (the queue was full, or no key has room within its wait). */
  record(outcome: Outcome): void { this.metrics.ended(outcome, 0); }

  /** The process's waiters (one read), for the status document. */
  totals(now: i64): QueueTotals {
    return QueueTotals.of(entriesOf(readShared(this.key)), now, "");
  }

  private indexOf(id: u32): i32 {
    for (let k = 0; k < this.waiters.length; k++) if (this.waiters[k].streamId == id) return k;
    return -1;
  }

  private end(k: i32, outcome: Outcome, now: i64): void {
    const w = this.waiters[k];
    this.waiters.splice(k, 1);
    this.moved(w.rank, -1);
    this.metrics.ended(outcome, now - w.since);
    this.dirty = true;
  }

  private moved(rank: i32, delta: i32): void {
    this.shares.own[rank] += delta;
    this.metrics.waitingMoved(rank, delta);
  }

  // The youngest waiter of this VM ranked below `rank` gives its place up (answered 429).
  private dropBelow(rank: i32, now: i64): bool {
    for (let k = this.waiters.length - 1; k >= 0; k--) {
      const w = this.waiters[k];
      if (w.rank <= rank) return false;
      if (!setEffectiveContext(w.streamId)) continue;
      this.waiters.splice(k, 1);
      this.moved(w.rank, -1);
      this.metrics.ended(Outcome.Dropped, now - w.since);
      this.dirty = true;
      w.ticket.drop();
      return true;
    }
    return false;
  }

  // The drops other VMs asked of this one (its entry in `entries`), carried out now.
  private dropAsked(entries: QueueEntry[], now: i64): void {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.tag != this.tag || e.drops <= this.dropsDone) continue;
      while (e.drops > this.dropsDone) {
        this.dropsDone++;
        this.dropBelow(e.dropBelow, now);
      }
      this.dirty = true;
    }
  }

  // One more place (for a request of `rank`) in this VM, if the process has room; `askDrop`: else
  // by asking another VM to drop a lower waiter (one CAS).
  private claim(rank: i32, now: i64, askDrop: bool): bool {
    return compareAndSwap(this.key, new QueueWrite(this, this.tag, now, rank, askDrop)) == CasOutcome.Stored;
  }

  private publish(now: i64): void {
    if (compareAndSwap(this.key, new QueueWrite(this, this.tag, now, -1, false)) == CasOutcome.Lost && logEnabled(LogLevel.Debug)) {
      log(LogLevel.Debug, "the queue record could not be written");
    }
    this.lastWrite = now;
    this.dirty = false;
  }

  /** This VM's entry as its waiters and releases are now. */
  entryNow(now: i64): QueueEntry {
    const e = entryOf(this.tag, this.waiters, now);
    e.released = this.shares.window;
    return e;
  }
}

/** The entries of the queue record read as `v` (none when missing or unreadable). */
function entriesOf(v: SharedValue | null): QueueEntry[] {
  const payload = QUEUE_RECORD.decode(v);
  return payload != null ? decodeQueue(payload) : [];
}

/**
 * Rewrites this VM's entry (dropping stale ones). `claim` ≥ 0: with one more waiter of that rank,
 * only if the process has room, or (`askDrop`) if another VM holds a waiter ranked below it, which
 * that VM is asked to drop.
 */
class QueueWrite extends SharedUpdate {
  constructor(private queue: AdmissionQueue, private tag: string, private now: i64, private claim: i32, private askDrop: bool) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const entries = entriesOf(current);
    const others = QueueTotals.of(entries, this.now, this.tag);
    const mine = this.queue.entryNow(this.now);
    const kept: QueueEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      // The drops asked of this VM that it has not carried out yet stay asked.
      if (e.tag == this.tag && e.drops > this.queue.dropsDone) {
        mine.drops = e.drops;
        mine.dropBelow = e.dropBelow;
      }
      if (e.tag != this.tag && this.now - e.at <= STALE_MS && (e.total > 0 || e.released.counts(this.now))) kept.push(e);
    }
    if (mine.drops == 0) this.queue.dropsDone = 0;
    if (this.claim >= 0) {
      // A priority over its share of the places is refused whatever room is left.
      if (others.counts[this.claim] + mine.counts[this.claim] + 1 > placesFor(this.queue.cfg, this.claim)) return null;
      // Waiters already asked to leave do not count.
      const full = others.total - others.drops + mine.total - (mine.drops - this.queue.dropsDone) + 1 > this.queue.cfg.maxWaiting;
      if (full && !this.askDrop) return null;
      if (full && !askLowest(kept, this.claim)) return null;
      mine.counts[this.claim]++;
      if (mine.oldestSince == 0) mine.oldestSince = this.now;
    }
    if (mine.total > 0 || mine.drops > 0 || mine.released.counts(this.now)) kept.push(mine);
    return QUEUE_RECORD.encode(encodeQueue(kept));
  }
}

// Asks the VM holding the lowest-ranked waiter below `rank` (not already asked to leave) to drop one.
function askLowest(entries: QueueEntry[], rank: i32): bool {
  let target: QueueEntry | null = null;
  let lowest = -1;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const r = e.lowestBelow(rank);
    if (r > lowest && e.total > e.drops) { lowest = r; target = e; }
  }
  if (target == null) return false;
  target.drops++;
  target.dropBelow = max(target.dropBelow, rank);
  return true;
}

/** Puts `w` in `list` in place by rank, after the older waiters of the same rank. */
function insertByRank(list: Waiter[], w: Waiter): void {
  list.push(w);
  let at = list.length - 1;
  while (at > 0 && list[at - 1].rank > w.rank) {
    list[at] = list[at - 1];
    at--;
  }
  list[at] = w;
}
