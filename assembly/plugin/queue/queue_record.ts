// The admission queue's shared record: one entry per VM with waiters (how many of each priority,
// since when its oldest waits, when it last wrote, and how many of its waiters ranked below
// `dropBelow` another VM asked it to drop), so every worker knows the process's waiters. An
// entry not rewritten for STALE_MS is ignored (its VM is gone). Pure.
import { decimalOf } from "../../util/decimal";

/** A VM rewrites its entry at least this often while it has waiters; older entries are ignored. */
export const STALE_MS: i64 = 5000;
export const RANKS = 4;

export class QueueEntry {
  counts: i32[] = [0, 0, 0, 0];
  /** Waiters ranked below `dropBelow` (rank greater than it) this VM is asked to drop (drop_lowest). */
  drops: i32 = 0;
  dropBelow: i32 = -1;
  constructor(public tag: string, public oldestSince: i64, public at: i64) {}

  /** The lowest rank among this entry's waiters ranked below `rank`, -1 when it has none. */
  lowestBelow(rank: i32): i32 {
    for (let r = RANKS - 1; r > rank; r--) if (this.counts[r] > 0) return r;
    return -1;
  }

  get total(): i32 { return this.counts[0] + this.counts[1] + this.counts[2] + this.counts[3]; }
}

export function encodeQueue(entries: QueueEntry[]): string {
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    parts[i] = e.tag + "," + e.counts.join(",") + "," + e.oldestSince.toString() + "," + e.at.toString() + "," +
      e.dropBelow.toString() + "," + e.drops.toString();
  }
  return parts.join(";");
}

/** The entries of a record's payload; an entry that does not read is left out. */
export function decodeQueue(s: string): QueueEntry[] {
  const out: QueueEntry[] = [];
  if (s.length == 0) return out;
  const items = s.split(";");
  for (let i = 0; i < items.length; i++) {
    const f = items[i].split(",");
    if (f.length != 5 + RANKS || f[0].length == 0) continue;
    const since = decimalOf(f[1 + RANKS]), at = decimalOf(f[2 + RANKS]), drops = decimalOf(f[4 + RANKS], 0, -1, 9);
    const below = f[3 + RANKS] == "-1" ? -1 : decimalOf(f[3 + RANKS], 0, -1, 1);
    if (since < 0 || at < 0 || drops < 0 || (below < 0 && f[3 + RANKS] != "-1") || below >= RANKS) continue;
    const e = new QueueEntry(f[0], since, at);
    e.drops = <i32>drops;
    e.dropBelow = <i32>below;
    let ok = true;
    for (let r = 0; r < RANKS; r++) {
      const n = decimalOf(f[1 + r], 0, -1, 9);
      if (n < 0) ok = false;
      else e.counts[r] = <i32>n;
    }
    if (ok) out.push(e);
  }
  return out;
}

/** The process's waiters at `now` from fresh entries: counts by rank, and the oldest wait's start (0: none). */
export class QueueTotals {
  counts: i32[] = [0, 0, 0, 0];
  oldestSince: i64 = 0;
  /** Waiters asked to give their place up and not gone yet. */
  drops: i32 = 0;

  get total(): i32 { return this.counts[0] + this.counts[1] + this.counts[2] + this.counts[3]; }

  /** Adds the fresh entries other than `except` ("" for all). */
  static of(entries: QueueEntry[], now: i64, except: string): QueueTotals {
    const t = new QueueTotals();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.tag == except || now - e.at > STALE_MS || e.total == 0) continue;
      for (let r = 0; r < RANKS; r++) t.counts[r] += e.counts[r];
      t.drops += e.drops;
      if (t.oldestSince == 0 || e.oldestSince < t.oldestSince) t.oldestSince = e.oldestSince;
    }
    return t;
  }
}
