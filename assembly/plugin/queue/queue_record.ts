// The admission queue's shared record: one entry per VM with waiters (how many of each priority,
// since when its oldest waits, when it last wrote, how many of its waiters ranked below
// `dropBelow` another VM asked it to drop, and what it released lately), so every worker knows the
// process's waiters and how the releases went. An entry not rewritten for STALE_MS is ignored
// (its VM is gone). Pure.
import { decimalOf } from "../../util/decimal";
import { ReleaseWindow } from "./release_window";

/** A VM rewrites its entry at least this often while it has waiters; older entries are ignored. */
export const STALE_MS: i64 = 5000;
export const RANKS = 4;

export class QueueEntry {
  counts: i32[] = [0, 0, 0, 0];
  /** Waiters ranked below `dropBelow` (rank greater than it) this VM is asked to drop (drop_lowest). */
  drops: i32 = 0;
  dropBelow: i32 = -1;
  /** What this VM released lately while other priorities waited (see fair_share.ts). */
  released: ReleaseWindow = new ReleaseWindow();
  constructor(public tag: string, public oldestSince: i64, public at: i64) {}

  /** The lowest rank among this entry's waiters ranked below `rank`, -1 when it has none. */
  lowestBelow(rank: i32): i32 { return lowestBelow(this.counts, rank); }

  get total(): i32 { return this.counts[0] + this.counts[1] + this.counts[2] + this.counts[3]; }
}

/** The lowest rank below `rank` counted in `counts` (waiters by rank), -1 when none is. */
export function lowestBelow(counts: i32[], rank: i32): i32 {
  for (let r = RANKS - 1; r > rank; r--) if (counts[r] > 0) return r;
  return -1;
}

export function encodeQueue(entries: QueueEntry[]): string {
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const rel = e.released;
    parts[i] = e.tag + "," + e.counts.join(",") + "," + e.oldestSince.toString() + "," + e.at.toString() + "," +
      e.dropBelow.toString() + "," + e.drops.toString() + "," + rel.win.toString() + "," + rel.current.join(",") + "," +
      rel.previous.join(",");
  }
  return parts.join(";");
}

/** Fields of an entry: tag, counts, oldestSince, at, dropBelow, drops, then the release window. */
const FIELDS = 5 + RANKS;
const WITH_RELEASES = FIELDS + 1 + 2 * RANKS;

/**
 * The entries of a record's payload; an entry that does not read is left out. An entry without
 * releases (written by a VM of an earlier version, during a reload) reads with none.
 */
export function decodeQueue(s: string): QueueEntry[] {
  const out: QueueEntry[] = [];
  if (s.length == 0) return out;
  const items = s.split(";");
  for (let i = 0; i < items.length; i++) {
    const f = items[i].split(",");
    if ((f.length != FIELDS && f.length != WITH_RELEASES) || f[0].length == 0) continue;
    const since = decimalOf(f[1 + RANKS]), at = decimalOf(f[2 + RANKS]), drops = decimalOf(f[4 + RANKS], 0, -1, 9);
    const below = f[3 + RANKS] == "-1" ? -1 : decimalOf(f[3 + RANKS], 0, -1, 1);
    if (since < 0 || at < 0 || drops < 0 || (below < 0 && f[3 + RANKS] != "-1") || below >= RANKS) continue;
    const e = new QueueEntry(f[0], since, at);
    e.drops = <i32>drops;
    e.dropBelow = <i32>below;
    let ok = readCounts(f, 1, e.counts);
    if (f.length == WITH_RELEASES) {
      const win = decimalOf(f[FIELDS]);
      e.released.win = win;
      ok = ok && win >= 0 && readCounts(f, FIELDS + 1, e.released.current) && readCounts(f, FIELDS + 1 + RANKS, e.released.previous);
    }
    if (ok) out.push(e);
  }
  return out;
}

// Reads RANKS counts from `f` at `from` into `into`; false when one does not read.
function readCounts(f: string[], from: i32, into: i32[]): bool {
  for (let r = 0; r < RANKS; r++) {
    const n = decimalOf(f[from + r], 0, -1, 9);
    if (n < 0) return false;
    into[r] = <i32>n;
  }
  return true;
}

/** The process's waiters at `now` from fresh entries: counts by rank, and the oldest wait's start (0: none). */
export class QueueTotals {
  counts: i32[] = [0, 0, 0, 0];
  oldestSince: i64 = 0;
  /** Waiters asked to give their place up and not gone yet. */
  drops: i32 = 0;
  /** Releases that still count (see ReleaseWindow), by rank. */
  released: i32[] = [0, 0, 0, 0];

  get total(): i32 { return this.counts[0] + this.counts[1] + this.counts[2] + this.counts[3]; }

  /** Adds the fresh entries other than `except` ("" for all). */
  static of(entries: QueueEntry[], now: i64, except: string): QueueTotals {
    const t = new QueueTotals();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.tag == except || now - e.at > STALE_MS) continue;
      e.released.addTo(t.released, now);
      if (e.total == 0) continue;
      for (let r = 0; r < RANKS; r++) t.counts[r] += e.counts[r];
      t.drops += e.drops;
      if (t.oldestSince == 0 || e.oldestSince < t.oldestSince) t.oldestSince = e.oldestSince;
    }
    return t;
  }
}
