// Follows the provider's per-key signals on every answer a key gets (the route's, or a retry's):
// what its rate-limit headers report left wins over the local budget; a key that reports nothing
// left, or a 429 with Retry-After, rests the key (no VM chooses it) until a request is back
// (requestsBackAt), its tokens reset or the Retry-After passes, within restBound; headers that
// report nothing left rest every key of its account group too. A 429 that reports room left is the
// request's own refusal and rests nothing.
import { HeaderLookup } from "../../util/header_lookup";
import { nowMs } from "../../runtime/host";
import { Plugin } from "../plugin";
import { DEFAULT_HOLD_MS, RateLimitHeaders, requestsBackAt, resetAt } from "../budget/rate_limit";
import { is2xx } from "../../util/status";
import { retryAfterDeadline } from "../judge/retry_after";
import { RequestMark } from "../judge/request_mark";

/**
 * Whether an answer's rate-limit headers report room left for the key: requests left and tokens
 * left (or not said). A 429 that says so refused the request for what it is (OpenAI's "Request
 * too large for … TPM"), not the key.
 */
export function reportsRoom(names: RateLimitHeaders, headers: HeaderLookup): bool {
  return headers.getDecimal(names.remainingRequests) > 0 && headers.getDecimal(names.remainingTokens) != 0;
}

/** `headers`: the answer's (the route's, read from the host once, or a retry's); `mark`: who sent the request. */
export function followRateLimit(plugin: Plugin, token: i32, status: i32, headers: HeaderLookup, mark: RequestMark): void {
  const names = plugin.rateLimit;
  const requestsLeft = headers.getDecimal(names.remainingRequests);
  const tokensLeft = headers.getDecimal(names.remainingTokens);
  const budgets = plugin.budgets;
  if (budgets != null) budgets.report(token, requestsLeft, tokensLeft);
  const failover = plugin.failover;
  if (failover == null) return;
  if (requestsLeft > 0) plugin.headroom.set(token, requestsLeft, headers.getDecimal(names.limitRequests));
  if (status == 429 && requestsLeft > 0 && tokensLeft != 0) return;
  const now = nowMs();
  let until: i64 = status == 429 ? retryAfterDeadline(headers.get("retry-after"), now) : 0;
  if (requestsLeft != 0 && tokensLeft != 0) {
    if (until > now) failover.rest(token, until, mark.body);
    return;
  }
  if (requestsLeft == 0) {
    const reset = resetAt(headers.get(names.resetRequests), names.resetIsTime, now);
    const key = plugin.config.keys[token];
    const limit = headers.getDecimal(names.limitRequests);
    // A refused request says the refill has not come yet: then the whole reset is waited for.
    const continuous = key.rpm > 0 && key.burst == 0 && is2xx(status);
    until = max(until, requestsBackAt(reset, now, limit, continuous));
  }
  if (tokensLeft == 0) {
    const t = resetAt(headers.get(names.resetTokens), names.resetIsTime, now);
    if (t > until) until = t;
  }
  const at = until > now ? until : now + DEFAULT_HOLD_MS;
  failover.rest(token, at, mark.body);
  // The headers report the account's numbers: every key of the token's group has nothing left either.
  const keys = plugin.config.keys;
  const group = keys[token].group;
  if (group < 0) return;
  for (let k = 0; k < keys.length; k++) if (k != token && keys[k].group == group) failover.rest(k, at, mark.body);
}
