// The process's link to the other replicas as its lease holder last saw it, in one shared-data
// record: for the one log line per change, the budgets' start after an outage, and the status
// document, whichever VM serves it.
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { decimalOf } from "../../util/decimal";
import { LINK_RECORD } from "../base/shared_record";

export class LinkRecord {
  constructor(public up: bool, public since: i64, public liveReplicas: i32, public prober: bool, public syncedAt: i64) {}

  encode(): string {
    return (this.up ? "1" : "0") + "," + this.since.toString() + "," + this.liveReplicas.toString() + "," +
      (this.prober ? "1" : "0") + "," + this.syncedAt.toString();
  }

  static decode(payload: string): LinkRecord | null {
    const f = payload.split(",");
    if (f.length != 5) return null;
    const since = decimalOf(f[1]), live = decimalOf(f[2]), at = decimalOf(f[4]);
    if (since < 0 || live < 1 || at < 0) return null;
    return new LinkRecord(f[0] == "1", since, <i32>min<i64>(live, 10_000), f[3] == "1", at);
  }

  /** The status document's `replicas` field. */
  json(now: i64): string {
    return "{\"link\":\"" + (this.up ? "up" : "down") + "\",\"liveReplicas\":" + this.liveReplicas.toString() +
      ",\"proberHere\":" + (this.prober ? "true" : "false") + ",\"" + (this.up ? "syncedMsAgo" : "downForMs") + "\":" +
      max<i64>(0, now - (this.up ? this.syncedAt : this.since)).toString() + "}";
  }
}

export function readLinkRecord(key: ArrayBuffer): LinkRecord | null {
  const payload = LINK_RECORD.decode(readShared(key));
  return payload != null ? LinkRecord.decode(payload) : null;
}

/** What recording a sync's outcome changed: whether the link flipped, and whether nothing was recorded before. */
export class LinkChange {
  constructor(public flipped: bool, public first: bool) {}
}

export function recordLink(key: ArrayBuffer, up: bool, live: i32, prober: bool, now: i64): LinkChange {
  const update = new WriteLink(up, live, prober, now);
  const stored = compareAndSwap(key, update) == CasOutcome.Stored;
  return new LinkChange(stored && update.flipped, update.first);
}

class WriteLink extends SharedUpdate {
  flipped: bool = false;
  first: bool = false;
  constructor(private up: bool, private live: i32, private prober: bool, private now: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const payload = LINK_RECORD.decode(current);
    const was = payload != null ? LinkRecord.decode(payload) : null;
    this.first = was == null;
    this.flipped = was == null || was.up != this.up;
    // Down: the time it went down is kept, and nothing else changes until it comes back.
    if (was != null && !was.up && !this.up) return null;
    const since = this.up ? 0 : this.now;
    return LINK_RECORD.encode(new LinkRecord(this.up, since, this.live, this.prober, this.now).encode());
  }
}
