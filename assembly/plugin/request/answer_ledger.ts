// Every upstream attempt of one request, the route's and each retry's, in either placement: the
// one place that judges each answer for the key it carried, follows the provider's rate-limit and
// Retry-After signals, settles token usage against the key's budget, and, once the request's
// attempts are over, decides whose fault each failure was (the key's, the request's or the
// provider's). The filters and the retry session hand it their answers.
import { BufferType } from "../../abi/enums";
import { getBufferBytes } from "../../runtime/buffers";
import { CallAnswer } from "../../runtime/calls";
import { getProperty, nowMs } from "../../runtime/host";
import { HeaderList, RawHeaders } from "../../util/header_list";
import { is2xx } from "../../util/status";
import { CALL_ORIGIN, STREAM_ORIGIN } from "../judge/answer_origin";
import { RequestMark } from "../judge/request_mark";
import { UsageScanner } from "../judge/usage";
import { Plugin } from "../plugin";
import { Attempt, isEventStream } from "./attempt";
import { settleAttempts } from "./attempt_settlement";
import { followRateLimit, reportsRoom } from "./rate_limit_follow";
import { isHostReply } from "./replay";

export class AnswerLedger {
  /** Every attempt sent: the route's first, then each retry. */
  readonly attempts: Attempt[] = [];
  /** Reads the provider's usage from the route's answer (null: no token budget counts it). */
  private usage: UsageScanner | null = null;
  /** The route's answer has ended (its headers or its body said so). */
  private routeEnded: bool = false;

  constructor(private plugin: Plugin, readonly mark: RequestMark) {}

  /** The route's attempt. */
  get first(): Attempt { return this.attempts[0]; }

  /** The keys the request's attempts used, in order. */
  get keys(): i32[] {
    const out = new Array<i32>(this.attempts.length);
    for (let k = 0; k < this.attempts.length; k++) out[k] = this.attempts[k].key;
    return out;
  }

  /** Starts the route's attempt with `key` (`reserved` tokens of its budget taken). */
  openRoute(key: i32, reserved: i64): Attempt {
    const budgets = this.plugin.budgets;
    if (budgets != null && budgets.countsTokens) this.usage = new UsageScanner();
    const a = new Attempt(key, this.mark);
    a.reserved = reserved;
    this.attempts.push(a);
    return a;
  }

  /** A retry's attempt with `key`, its failure held for the others to judge; `guessed`: sent on a route not learned yet. */
  openRetry(key: i32, reserved: i64, guessed: bool): Attempt {
    const a = new Attempt(key, this.mark);
    a.reserved = reserved;
    a.unconfirmed = guessed;
    a.defer = true;
    return a;
  }

  /** The retry call of `a` went out. */
  sent(a: Attempt): void { this.attempts.push(a); }

  /**
   * The route's answer head (`head`: its headers, read from the host once); `retrying`: its
   * failure is held while a retry runs. Streams are judged on status and headers only.
   */
  routeHead(head: RawHeaders, status: i32, endOfStream: bool, retrying: bool): void {
    const plugin = this.plugin;
    const first = this.first;
    first.status = status;
    this.routeEnded = endOfStream;
    const failover = plugin.failover;
    if (failover == null) {
      if (plugin.budgets != null) followRateLimit(plugin, first.key, status, head, this.mark);
      return;
    }
    first.defer = retrying;
    first.roomLeft = status == 429 && reportsRoom(plugin.rateLimit, head);
    const headers = plugin.failureRulesNeedHeaders ? HeaderList.parse(head.raw) : null;
    const needBody = plugin.failureRulesNeedBody;
    const bodyFollows = !endOfStream && needBody && !isEventStream(head.get("content-type"));
    const encoding = needBody ? head.get("content-encoding") : null;
    const retryAfter = status == 429 ? head.get("retry-after") : null;
    first.judge(failover, status, headers, retryAfter, STREAM_ORIGIN, status == 429 ? nowMs() : 0, bodyFollows, encoding);
    followRateLimit(plugin, first.key, status, head, this.mark);
  }

  /** Holds the route's failure too: a failure rule reading its body may have it retried. */
  holdRoute(): void { this.first.defer = true; }

  /**
   * The route's answer body so far: `size` bytes buffered, `seen` of them read before. `own`:
   * it is the answer the route's attempt used (not a failure being replaced), so its usage counts.
   */
  routeBody(size: usize, seen: usize, endOfStream: bool, own: bool): void {
    const first = this.first;
    if (endOfStream) this.routeEnded = true;
    const usage = this.usage;
    if (usage != null && own && size > seen) {
      const chunk = getBufferBytes(BufferType.ResponseBody, seen, size - seen);
      if (chunk != null) usage.feedBuffer(chunk);
    }
    const failover = this.plugin.failover;
    if (failover == null || !first.pending) return;
    if (first.wantsBody && size > seen) {
      const want = size - seen;
      const chunk = getBufferBytes(BufferType.ResponseBody, seen, want < <usize>first.room ? want : <usize>first.room);
      if (chunk != null) first.addBody(chunk);
    }
    if (endOfStream || !first.wantsBody) first.finishBody(failover, STREAM_ORIGIN, first.status == 429 ? nowMs() : 0, endOfStream);
  }

  /**
   * The route's answer is over (its end, or the stream's log): the provider's usage replaces the
   * estimate in the key's token budget, and a body rule still waiting is judged on what arrived.
   */
  routeOver(): void {
    const first = this.first;
    if (first.status > 0 && !this.routeEnded && cutByUpstream()) this.plugin.metrics.answerCut();
    const usage = this.usage;
    if (usage != null) first.settleUsage(this.plugin.selector, usage.total);
    const failover = this.plugin.failover;
    if (failover != null && first.pending) first.finishBody(failover, STREAM_ORIGIN, nowMs(), false);
  }

  /**
   * A retry call's answer for its attempt `a`, its body read up to `limit` bytes; returns that
   * body, or null when Envoy answered the call itself (a failed call, nobody's fault).
   */
  callAnswer(a: Attempt, answer: CallAnswer, limit: usize): ArrayBuffer | null {
    const body = answer.body(limit);
    const status = answer.status;
    if (isHostReply(status, answer.headers, body)) return null;
    const plugin = this.plugin;
    a.status = status;
    const failover = plugin.failover;
    // A guessed route may have answered for the wrong host or path: only a success proves anything.
    if (failover != null && (!a.unconfirmed || is2xx(status))) {
      a.roomLeft = status == 429 && reportsRoom(plugin.rateLimit, answer.headers);
      a.judgeWhole(failover, status, answer.headers, body, CALL_ORIGIN, status == 429 ? nowMs() : 0);
      followRateLimit(plugin, a.key, status, answer.headers, this.mark);
    }
    const budgets = plugin.budgets;
    if (budgets != null && budgets.countsTokens) {
      const usage = new UsageScanner();
      usage.feedBuffer(body);
      a.settleUsage(plugin.selector, usage.total);
    }
    return body;
  }

  /** The request's attempts are over: whose fault each held failure was is decided now. */
  settle(): void {
    const failover = this.plugin.failover;
    if (failover != null) settleAttempts(failover, this.attempts);
  }
}

/**
 * Whether Envoy ended the route's answer because the upstream cut it after its headers. Envoy then
 * resets the client's stream (a local reply cannot follow headers already sent) and calls no
 * filter with more of the answer, so it can only be counted; a client that left shows
 * `downstream_remote_disconnect` instead. A reset is the connection's, not the key's: nothing counts.
 */
function cutByUpstream(): bool {
  const details = getProperty("response.code_details");
  return details != null && details.startsWith("upstream_reset_after_response_started");
}
