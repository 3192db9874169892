// Judging the route's own answer for the key it carried: its head when it arrives (a failure about
// to be retried is held, the other keys' answers tell whose it is), its body while a failure rule
// must read it. Streams are judged on status and headers only.
import { BufferType } from "../../abi/enums";
import { getBufferBytes } from "../../runtime/buffers";
import { nowMs } from "../../runtime/host";
import { HeaderList, RawHeaders } from "../../util/header_list";
import { followRateLimit, reportsRoom } from "./rate_limit_follow";
import { Plugin } from "../plugin";
import { Failover } from "../pool/failover";
import { STREAM_ORIGIN } from "../judge/answer_origin";
import { Attempt } from "./attempt";

/**
 * The route's answer head (`head`: its headers, read from the host once) for `first`, which
 * carried the key; `retrying`: the failure is held for a retry.
 */
export function judgeRouteHead(plugin: Plugin, first: Attempt, head: RawHeaders, status: i32, endOfStream: bool, retrying: bool): void {
  const failover = plugin.failover;
  if (failover == null) {
    if (plugin.budgets != null) followRateLimit(plugin, first.token, status, head, first.mark);
    return;
  }
  first.defer = retrying;
  first.roomLeft = status == 429 && reportsRoom(plugin.rateLimit, head);
  const headers = plugin.failureRulesNeedHeaders ? HeaderList.parse(head.raw) : null;
  const needBody = plugin.failureRulesNeedBody;
  const bodyFollows = !endOfStream && needBody && !isEventStream(head);
  const encoding = needBody ? head.get("content-encoding") : null;
  const retryAfter = status == 429 ? head.get("retry-after") : null;
  first.judge(failover, status, headers, retryAfter, STREAM_ORIGIN, status == 429 ? nowMs() : 0, bodyFollows, encoding);
  followRateLimit(plugin, first.token, status, head, first.mark);
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

function isEventStream(head: RawHeaders): bool {
  const ct = head.get("content-type");
  return ct != null && ct.includes("text/event-stream");
}
