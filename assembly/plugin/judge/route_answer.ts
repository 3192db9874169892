// Judging the route's own answer for the key it carried: its head when it arrives (a failure about
// to be retried is held, the other keys' answers tell whose it is), its body while a failure rule
// must read it. Streams are judged on status and headers only.
import { BufferType, MapType } from "../../abi/enums";
import { getBufferBytes } from "../../runtime/buffers";
import { getHeader, getHeaderPairs } from "../../runtime/headers";
import { nowMs } from "../../runtime/host";
import { followRateLimit } from "../budget/rate_limit_follow";
import { Plugin } from "../plugin";
import { Failover } from "../pool/failover";
import { STREAM_ORIGIN } from "./answer_origin";
import { Attempt } from "./attempt";

/** The route's answer head for `first`, which carried the key; `retrying`: the failure is held for a retry. */
export function judgeRouteHead(plugin: Plugin, first: Attempt, status: i32, endOfStream: bool, retrying: bool): void {
  const failover = plugin.failover;
  if (failover == null) {
    if (plugin.budgets != null) followRateLimit(plugin, first.token, status, null);
    return;
  }
  first.defer = retrying;
  const headers = plugin.failureRulesNeedHeaders ? getHeaderPairs(MapType.ResponseHeaders) : null;
  const needBody = plugin.failureRulesNeedBody;
  const bodyFollows = !endOfStream && needBody && !isEventStream();
  const encoding = needBody ? getHeader(MapType.ResponseHeaders, "content-encoding") : null;
  const retryAfter = status == 429 ? getHeader(MapType.ResponseHeaders, "retry-after") : null;
  first.judge(failover, status, headers, retryAfter, STREAM_ORIGIN, status == 429 ? nowMs() : 0, bodyFollows, encoding);
  followRateLimit(plugin, first.token, status, null);
}

/** The route's answer body so far (`size` bytes buffered, `seen` of them read before), while a rule waits for it. */
export function judgeRouteBody(failover: Failover, first: Attempt, size: usize, seen: usize, endOfStream: bool): void {
  if (first.wantsBody && size > seen) {
    const want = size - seen;
    const chunk = getBufferBytes(BufferType.ResponseBody, seen, want < <usize>first.room ? want : <usize>first.room);
    if (chunk != null) first.addBody(chunk);
  }
  if (endOfStream || !first.wantsBody) first.finishBody(failover, STREAM_ORIGIN, first.status == 429 ? nowMs() : 0, endOfStream);
}

function isEventStream(): bool {
  const ct = getHeader(MapType.ResponseHeaders, "content-type");
  return ct != null && ct.includes("text/event-stream");
}
