// Retry on failure for one request: the client's request kept for a replay, the retry calls sent
// with keys not tried yet, and how the chosen answer reaches the client (in place of the held
// failure, or as a local reply). Its state says which of these is under way.
import { DataAction, LogLevel, StreamType } from "../../abi/enums";

import { CallAnswer, CallHandler, dispatchCall } from "../../runtime/calls";
import { HeaderList } from "../../util/header_list";
import { continueStream, nowMs, routeCluster } from "../../runtime/host";
import { log, logEnabled } from "../../runtime/log";
import { Attempt, BODY_RULE_LIMIT } from "./attempt";
import { Delivery, HeldBody, replaceHeld, replyWith } from "./held_answer";
import { PickKind } from "../keys/key_selector";
import { Plugin } from "../plugin";
import { CapturedRequest, replayHeaders } from "./replay";
import { AnswerLedger } from "./answer_ledger";
import { KeyAssignment } from "./key_assignment";
import { shapeKey } from "../route/route_shape";
import { is2xx } from "../../util/status";

/**
 * Bytes of a retry answer the plugin delivers at most. A larger answer is never cut: the client
 * receives the provider's original failure instead (and the warning log says why).
 */
export const RETRY_ANSWER_LIMIT: usize = 4 << 20;

/** Whether a request kept as `captured` may be retried after `retries` retries for an answer with `status`. */
export function mayRetry(plugin: Plugin, captured: CapturedRequest, retries: i32, status: i32): bool {
  return mayRetryOnRule(plugin, captured, retries) && plugin.config.retry.retryOnStatus.has(status);
}

/** Whether such a request may be retried for an answer a failure rule matched (retryOnFailureConditions). */
export function mayRetryOnRule(plugin: Plugin, captured: CapturedRequest, retries: i32): bool {
  return captured.replayable && retries < plugin.config.retry.maxRetries;
}

export enum RetryState {
  /** No retry runs: the route's answer goes to the client as it comes. */
  Idle,
  /** A retry call is in flight; the provider's failed answer is held. */
  Calling,
  /** The chosen retry answer waits for the rest of the held answer's body, which it then replaces. */
  AwaitingHeldBody,
}

/** The answer of one retry call, for the attempt that sent it. */
class RetryCall extends CallHandler {
  constructor(private session: RetrySession, private attempt: Attempt, streamId: u32) {
    super();
    this.owner = streamId;
  }
  onAnswer(answer: CallAnswer | null): void { this.session.onAnswer(this.attempt, answer); }
  onOrphan(answer: CallAnswer | null): void { this.session.onOrphan(this.attempt, answer); }
}

export class RetrySession {
  state: RetryState = RetryState.Idle;
  private retries: i32 = 0;
  /** The best retry answer so far (null: the client gets the held provider answer). */
  private delivery: Delivery | null = null;
  /** How much of the held (failed) answer's body is buffered. */
  private held: HeldBody = HeldBody.NotYet;
  /** Bytes of the response body buffer already read (Envoy hands a buffered body again, grown). */
  private seen: usize = 0;
  /** The request's attempts and their answers. */
  private ledger: AnswerLedger;

  /** `assign`: the request's key assignment (its model, size and consumer choose each retry's key). */
  constructor(private plugin: Plugin, private streamId: u32, readonly captured: CapturedRequest,
              private assign: KeyAssignment) {
    this.ledger = assign.ledger!;
  }

  /** Whether the held answer is being replaced (a retry call runs, or its answer waits). */
  get active(): bool { return this.state != RetryState.Idle; }

  /** Bytes of the held answer's body read so far (0 when no retry runs). */
  get bodySeen(): usize { return this.seen; }

  /** Starts retrying the route's failed answer (held meanwhile); false when no retry could be sent. */
  begin(endOfStream: bool): bool {
    if (!this.send()) return false;
    this.state = RetryState.Calling;
    this.held = endOfStream ? HeldBody.Absent : HeldBody.NotYet;
    return true;
  }

  /** A chunk of the held answer's body (`size`: the whole buffered body, which Envoy hands again, grown). */
  onHeldBody(size: usize, endOfStream: bool): DataAction {
    this.seen = size;
    this.held = endOfStream ? HeldBody.Complete : HeldBody.Arriving;
    this.plugin.bodyWait.arrived(this.streamId);
    const waiting = this.delivery;
    if (this.state != RetryState.AwaitingHeldBody || waiting == null || !endOfStream) return DataAction.StopIterationAndBuffer;
    this.delivery = null;
    this.end();
    this.nameServed(waiting);
    if (replaceHeld(waiting, size) || !replyWith(waiting)) return DataAction.Continue;
    return DataAction.StopIterationNoBuffer;
  }

  /** Answer of a retry call (the stream is effective): ends with a local response, a continue, or another retry. */
  onAnswer(attempt: Attempt, answer: CallAnswer | null): void {
    if (answer == null) {
      // The call itself failed (reset): not the token's fault; the client gets the last provider answer.
      this.ledger.settle();
      this.deliver(false);
      return;
    }
    const limit = this.answerLimit;
    const tooLarge = answer.bodySize > limit;
    const body = this.ledger.callAnswer(attempt, answer, tooLarge ? <usize>BODY_RULE_LIMIT : limit);
    if (body == null) {
      this.ledger.settle();
      this.deliver(false);
      return;
    }
    const status = answer.status;
    if (tooLarge && logEnabled(LogLevel.Warn)) {
      log(LogLevel.Warn, "a retry answer of " + answer.bodySize.toString() + " bytes is over the " +
        limit.toString() + "-byte limit: the client receives the provider's first answer");
    }
    const deliverable = !tooLarge && (!attempt.unconfirmed || is2xx(status));
    if (deliverable) this.delivery = new Delivery(status, answer.headers, body, attempt.key);
    const retry = this.plugin.config.retry;
    const retryable = retry.retryOnStatus.has(status) || (retry.retryOnFailureConditions && attempt.failedByRule);
    if (retryable && mayRetryOnRule(this.plugin, this.captured, this.retries) && this.send()) return;
    this.ledger.settle();
    this.deliver(deliverable && !retryable);
  }

  // The largest retry answer delivered: a stream's whole text has its own bound.
  private get answerLimit(): usize {
    return this.captured.streaming ? <usize>this.plugin.config.retry.maxStreamAnswerBytes : RETRY_ANSWER_LIMIT;
  }

  /** A retry answer that arrived after the client left still counts for its token. */
  onOrphan(attempt: Attempt, answer: CallAnswer | null): void {
    if (answer != null) this.ledger.callAnswer(attempt, answer, <usize>BODY_RULE_LIMIT);
    this.ledger.settle();
  }

  /** Sends the request again with a key not tried yet; false when none is left or the call failed. */
  private send(): bool {
    const plugin = this.plugin;
    const cfg = plugin.config;
    const assign = this.assign;
    // Retries spend budget too; a key without budget is skipped like a tried one.
    const pick = plugin.selector.untried(assign.model, assign.prompt, assign.completion, this.ledger.keys, assign.affinity);
    if (pick.kind != PickKind.Key) return false;
    const cluster = routeCluster();
    if (cluster == null) return false;
    const next = pick.key;
    const captured = this.captured;
    // Without a learned shape the request goes as the client sent it, and only a success counts.
    // A route another VM of the process has seen counts as known (one shared-data read, on failure only).
    const shape = plugin.shapes.find(shapeKey(captured.headers), nowMs());
    const attempt = this.ledger.openRetry(next, pick.reserved, shape == null);
    const headers = replayHeaders(HeaderList.parse(captured.headers), shape, cfg, plugin.credentials.params, cfg.apiTokens[next], plugin.failureRulesNeedBody);
    // A stream's retry answers when its generation ends: it has a timeout of its own.
    const timeout = captured.streaming ? cfg.retry.streamRetryTimeout : cfg.retry.retryTimeout;
    if (!dispatchCall(cluster, headers, captured.body(), <u32>timeout, new RetryCall(this, attempt, this.streamId))) return false;
    this.ledger.sent(attempt);
    this.retries++;
    // The host copied the body: after the last retry it need not be held (a stream's may run for minutes).
    if (this.retries >= cfg.retry.maxRetries) {
      this.ledger.mark.pin();
      captured.dropBody();
    }
    plugin.metrics.retryAttempted();
    plugin.metrics.request(next);
    if (logEnabled(LogLevel.Debug)) {
      const failover = plugin.failover;
      log(LogLevel.Debug, "retrying with token " + (failover != null ? failover.fingerprintOf(next) : "#" + next.toString()) +
        (shape == null ? " (route shape not learned yet)" : ""));
    }
    return true;
  }

  /**
   * Ends the retries: the client gets the retry answer chosen (`delivery`) or, when there is none,
   * the held provider answer. The retry answer replaces the held one in place once its body is
   * all buffered, and waits for that body while it is arriving (or has not started, once this VM
   * has seen Envoy call the filter with body data while holding its headers); otherwise it is a
   * local reply.
   */
  private deliver(succeeded: bool): void {
    const plugin = this.plugin;
    if (succeeded) plugin.metrics.retrySucceeded();
    else plugin.metrics.retryExhausted();
    this.captured.dropBody();
    const answer = this.delivery;
    // An answer larger than Envoy lets a filter buffer is the plugin's own reply, at once.
    const inPlace = answer != null && answer.body.byteLength <= plugin.config.retry.inPlaceBytes;
    if (inPlace && (this.held == HeldBody.Arriving || (this.held == HeldBody.NotYet && plugin.bodyWait.shown))) {
      this.state = RetryState.AwaitingHeldBody;
      return;
    }
    this.delivery = null;
    const size = this.seen;
    this.end();
    this.nameServed(answer);
    if (answer == null || (inPlace && this.held == HeldBody.Complete && replaceHeld(answer!, size)) || !replyWith(answer!)) {
      continueStream(StreamType.Response);
    }
  }

  // The answer the client gets names its key: the retry's (`answer`), or the held first answer's.
  private nameServed(answer: Delivery | null): void {
    const served = this.plugin.servedKey;
    if (!served.on) return;
    const tried = this.ledger.keys;
    if (answer != null) served.addTo(answer.headers, answer.key, tried);
    else served.announce(tried[0], tried);
  }

  private end(): void {
    this.state = RetryState.Idle;
    this.seen = 0;
  }
}

