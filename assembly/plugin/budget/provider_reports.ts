// What the provider last reported left per budget entry (its rate-limit headers), less what this
// VM sent since; -1: no report. While it reports room, the local estimate never refuses. Pure.

/** Requests of a provider's report of what is left that this VM leaves to the other workers. */
const REPORT_RESERVE: i64 = 1;

export class ProviderReports {
  private requests: i64[];
  private tokens: i64[];

  constructor(entries: i32) {
    this.requests = new Array<i64>(entries).fill(-1);
    this.tokens = new Array<i64>(entries).fill(-1);
  }

  /** The provider's count for entry `e` (-1: not reported). */
  set(e: i32, requests: i64, tokens: i64): void {
    if (requests >= 0) this.requests[e] = requests;
    if (tokens >= 0) this.tokens[e] = tokens;
  }

  // Whether the last report leaves room for one request of `tokens` on entry `e` (`countsRequests`,
  // `countsTokens`: the entry has that budget). This VM's copy of the report counts only its own
  // requests since: another worker may have spent the last request the report left, so one is kept
  // in reserve (a report of 1 left lets nothing beyond the local estimate through).
  allows(e: i32, tokens: i64, countsRequests: bool, countsTokens: bool): bool {
    if (countsRequests && this.requests[e] <= REPORT_RESERVE) return false;
    if (countsTokens && this.tokens[e] < max<i64>(1, tokens)) return false;
    return true;
  }

  /** This VM sent one request of `tokens` on entry `e`. */
  spend(e: i32, tokens: i64): void {
    if (this.requests[e] > 0) this.requests[e]--;
    if (this.tokens[e] > 0) this.tokens[e] = max<i64>(0, this.tokens[e] - tokens);
  }
}
