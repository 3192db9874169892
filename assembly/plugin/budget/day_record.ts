// The shared record of the daily quotas: per key (or account group) and day, what the process has
// leased to its VMs, and, with gateway replicas sharing the day through Redis, how much of that
// Redis has counted, what the other replicas used, and how far this process may go before the
// next sync.
import { DAILY_RECORD } from "../base/shared_record";
import { decimalOf } from "../../util/decimal";

/** What one key has used of one day (requests, tokens), and its share of it among the replicas. */
export class DayUse {
  /** Of `requests`/`tokens`, what Redis has counted. */
  reportedRequests: i64 = 0;
  reportedTokens: i64 = 0;
  /** What the other replicas used of the day, as of the last sync. */
  othersRequests: i64 = 0;
  othersTokens: i64 = 0;
  /** How far this process's own use may go until the next sync (-1: the whole quota, no replicas). */
  allowRequests: i64 = -1;
  allowTokens: i64 = -1;
  constructor(public id: u64, public day: i64, public requests: i64, public tokens: i64) {}

  /** Starts day `day` afresh; `allowRequests`/`allowTokens`: what it may use before a sync says more. */
  restart(day: i64, allowRequests: i64, allowTokens: i64): void {
    this.day = day;
    this.requests = 0;
    this.tokens = 0;
    this.reportedRequests = 0;
    this.reportedTokens = 0;
    this.othersRequests = 0;
    this.othersTokens = 0;
    this.allowRequests = allowRequests;
    this.allowTokens = allowTokens;
  }
}

/**
 * Key `id`'s use of day `day` among `uses`: a past day's counts start over, with `allowRequests`
 * and `allowTokens` as what it may use before a sync; added when missing.
 */
export function useOf(uses: DayUse[], id: u64, day: i64, allowRequests: i64, allowTokens: i64): DayUse {
  for (let k = 0; k < uses.length; k++) {
    const u = uses[k];
    if (u.id != id) continue;
    if (u.day != day) u.restart(day, allowRequests, allowTokens);
    return u;
  }
  const fresh = new DayUse(id, day, 0, 0);
  fresh.restart(day, allowRequests, allowTokens);
  uses.push(fresh);
  return fresh;
}

const PLAIN = 4;
const SHARED = 10;

/** The entries of the record's payload; an entry that does not read is left out. */
export function decodeUses(payload: string | null): DayUse[] {
  const out: DayUse[] = [];
  if (payload == null || payload.length == 0) return out;
  const entries = payload.split(";");
  for (let k = 0; k < entries.length; k++) {
    const f = entries[k].split(",");
    if ((f.length != PLAIN && f.length != SHARED) || f[0].length == 0 || f[0].length > 16) continue;
    const n = new Array<i64>(f.length);
    let ok = true;
    for (let j = 1; j < f.length; j++) {
      // An allowance of -1 is the whole quota.
      n[j] = j >= 8 && f[j] == "-1" ? -1 : decimalOf(f[j]);
      if (n[j] < 0 && !(j >= 8 && f[j] == "-1")) ok = false;
    }
    if (!ok) continue;
    const u = new DayUse(U64.parseInt(f[0], 16), n[1], n[2], n[3]);
    if (f.length == SHARED) {
      u.reportedRequests = n[4];
      u.reportedTokens = n[5];
      u.othersRequests = n[6];
      u.othersTokens = n[7];
      u.allowRequests = n[8];
      u.allowTokens = n[9];
    }
    out.push(u);
  }
  return out;
}

/** The record's value for `uses`. */
export function encodeUses(uses: DayUse[]): ArrayBuffer {
  const parts = new Array<string>(uses.length);
  for (let k = 0; k < uses.length; k++) {
    const u = uses[k];
    parts[k] = u.id.toString(16) + "," + u.day.toString() + "," + u.requests.toString() + "," + u.tokens.toString() + "," +
      u.reportedRequests.toString() + "," + u.reportedTokens.toString() + "," + u.othersRequests.toString() + "," +
      u.othersTokens.toString() + "," + u.allowRequests.toString() + "," + u.allowTokens.toString();
  }
  return DAILY_RECORD.encode(parts.join(";"));
}
