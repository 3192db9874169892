// Follows the provider's rate-limit headers on every answer a key gets (the route's, or a retry's):
// what it reports left wins over the local budget, and a key that reports nothing left is not
// chosen by any VM until a request is back (requestsBackAt) or its tokens reset.
import { HeaderLookup } from "../../util/header_lookup";
import { nowMs } from "../../runtime/host";
import { Plugin } from "../plugin";
import { DEFAULT_HOLD_MS, requestsBackAt, resetAt } from "./rate_limit";
import { is2xx } from "../../util/status";

/** `headers`: the answer's (the route's, read from the host once, or a retry's). */
export function followRateLimit(plugin: Plugin, token: i32, status: i32, headers: HeaderLookup): void {
  const names = plugin.rateLimit;
  const requestsLeft = headers.getDecimal(names.remainingRequests);
  const tokensLeft = headers.getDecimal(names.remainingTokens);
  const budgets = plugin.budgets;
  if (budgets != null) budgets.report(token, requestsLeft, tokensLeft);
  const failover = plugin.failover;
  if (failover == null) return;
  if (requestsLeft > 0) plugin.headroom.set(token, requestsLeft, headers.getDecimal(names.limitRequests));
  if (requestsLeft != 0 && tokensLeft != 0) return;
  const now = nowMs();
  let until: i64 = 0;
  if (requestsLeft == 0) {
    const reset = resetAt(headers.get(names.resetRequests), names.resetIsTime, now);
    const key = plugin.config.keys[token];
    const limit = headers.getDecimal(names.limitRequests);
    // A refused request says the refill has not come yet: then the whole reset is waited for.
    const continuous = key.rpm > 0 && key.burst == 0 && is2xx(status);
    until = requestsBackAt(reset, now, limit, continuous);
  }
  if (tokensLeft == 0) {
    const t = resetAt(headers.get(names.resetTokens), names.resetIsTime, now);
    if (t > until) until = t;
  }
  failover.limit(token, until > now ? until : now + DEFAULT_HOLD_MS);
}
