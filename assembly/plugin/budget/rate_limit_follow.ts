// Follows the provider's rate-limit headers on every answer a key gets (the route's, or a retry's):
// what it reports left wins over the local budget, and a key that reports nothing left is not
// chosen by any VM until a request is back (requestsBackAt) or its tokens reset.
import { MapType } from "../../abi/enums";
import { HeaderList } from "../../util/header_list";
import { getHeader, getHeaderDecimal } from "../../runtime/headers";
import { nowMs } from "../../runtime/host";
import { Plugin } from "../plugin";
import { DEFAULT_HOLD_MS, requestsBackAt, resetAt } from "./rate_limit";
import { is2xx } from "../../util/status";

/** `headers`: a retry answer's; null: the route's answer, read from the host. */
export function followRateLimit(plugin: Plugin, token: i32, status: i32, headers: HeaderList | null): void {
  const names = plugin.rateLimit;
  const requestsLeft = headerDecimal(headers, names.remainingRequests, names.remainingRequestsKey);
  const tokensLeft = headerDecimal(headers, names.remainingTokens, names.remainingTokensKey);
  const budgets = plugin.budgets;
  if (budgets != null) budgets.report(token, requestsLeft, tokensLeft);
  const failover = plugin.failover;
  if (failover == null) return;
  if (requestsLeft > 0) plugin.headroom.set(token, requestsLeft, headerDecimal(headers, names.limitRequests, names.limitRequestsKey));
  if (requestsLeft != 0 && tokensLeft != 0) return;
  const now = nowMs();
  let until: i64 = 0;
  if (requestsLeft == 0) {
    const reset = resetAt(headerText(headers, names.resetRequests), names.resetIsTime, now);
    const key = plugin.config.keys[token];
    const limit = headerDecimal(headers, names.limitRequests, names.limitRequestsKey);
    // A refused request says the refill has not come yet: then the whole reset is waited for.
    const continuous = key.rpm > 0 && key.burst == 0 && is2xx(status);
    until = requestsBackAt(reset, now, limit, continuous);
  }
  if (tokensLeft == 0) {
    const t = resetAt(headerText(headers, names.resetTokens), names.resetIsTime, now);
    if (t > until) until = t;
  }
  failover.limit(token, until > now ? until : now + DEFAULT_HOLD_MS);
}

/**
 * A header of the route's answer (`list` null: read from the host as bytes, `key` being `name`
 * encoded, no string built) or of a call answer, as a number; -1 when absent or not a number.
 */
function headerDecimal(list: HeaderList | null, name: string, key: ArrayBuffer): i32 {
  return list != null ? list.getDecimal(name) : getHeaderDecimal(MapType.ResponseHeaders, key);
}

function headerText(list: HeaderList | null, name: string): string | null {
  return list != null ? list.get(name) : getHeader(MapType.ResponseHeaders, name);
}
