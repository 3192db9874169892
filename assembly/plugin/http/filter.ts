// The HTTP filter of one stream: routes Envoy's callbacks to the objects that do the work. It
// chooses a key (KeySelector) and sends it in place of the client's credentials, judges the
// route's answer for that key, and hands a failed request to its RetrySession.
import { BufferType, DataAction, HeadersAction, MapType, StreamType } from "../../abi/enums";
import { HeaderList, RawHeaders } from "../../util/header_list";
import { getBufferBytes } from "../../runtime/buffers";
import { getHeaderPairsRaw } from "../../runtime/headers";
import { HOST_CLOCK, continueStream, nowMs } from "../../runtime/host";
import { STREAM_ORIGIN } from "../judge/answer_origin";
import { CapturedRequest } from "../request/replay";
import { RetrySession, mayRetry, mayRetryOnRule } from "../request/retry_session";
import { answerStatus } from "./status_endpoint";
import { learnRoute } from "../route/route_learning";
import { KeyedStream } from "./keyed_stream";
import { is2xx } from "../../util/status";


export class TokenFilter extends KeyedStream {
  /** The request headers as the client sent them (serialized), read once. */
  private clientHeaders: ArrayBuffer | null = null;
  /** The request kept for a replay (null when retry is off or there is one key, and for requests that get no key). */
  private captured: CapturedRequest | null = null;
  /** The retries of a failed request (null until one is sent). */
  private retry: RetrySession | null = null;
  /** The answer is held while a failure rule reads its body: if the rule matches, it is retried. */
  private ruleHold: bool = false;
  /** Bytes of the answer body buffered (and read) while `ruleHold`. */
  private ruleSeen: usize = 0;

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const plugin = this.plugin;
    const cfg = plugin.config;
    const raw = getHeaderPairsRaw(MapType.RequestHeaders);
    // The path is matched where the host put it, without building a string.
    const at = HeaderList.rawPath(raw);
    const pathPtr = <usize>(at >> 32), pathLen = <i32>(at & 0xffffffff);
    if (cfg.isStatusPathAt(pathPtr, pathLen)) {
      answerStatus(plugin);
      return HeadersAction.StopIteration;
    }
    if (!this.isInference(raw, pathPtr, pathLen)) return HeadersAction.Continue;
    this.clientHeaders = raw;
    const assign = this.assignKey(raw);
    if (cfg.retry.enabled && cfg.apiTokens.length > 1) {
      const captured = new CapturedRequest(raw, plugin.heldBodies, HOST_CLOCK);
      captured.complete = endOfStream;
      this.captured = captured;
      // A failure that needs to know who sent the request reads the kept body.
      assign.mark.source = captured;
    }
    // With model lists the key depends on the body's model, with token budgets on its size: the
    // headers wait for it (Envoy needs allow_on_headers_stop_iteration to deliver the body meanwhile).
    return this.chooseOrHold(endOfStream, nowMs());
  }

  onRequestBody(size: usize, endOfStream: bool): DataAction {
    if (this.holding) return this.onHeldRequestBody(size, endOfStream);
    const captured = this.captured;
    if (captured != null && !captured.dropped) this.keep(size > 0 ? getBufferBytes(BufferType.RequestBody, 0, size) : null, endOfStream);
    // A request waiting in the queue keeps its body with Envoy until it goes.
    const assign = this.assign;
    return assign != null && assign.waiting ? DataAction.StopIterationAndBuffer : DataAction.Continue;
  }

  // The headers wait for the whole body; then the model decides the key, and headers and body go on together.
  private onHeldRequestBody(size: usize, endOfStream: bool): DataAction {
    const bytes = this.heldBody(size, endOfStream);
    if (bytes == null) return DataAction.StopIterationAndBuffer;
    if (this.captured != null) this.keep(bytes, true);
    return KeyedStream.afterBody(this.choose());
  }

  // Keeps a chunk of the request body (null: none) for a replay; `end`: the body is complete.
  private keep(chunk: ArrayBuffer | null, end: bool): void {
    const captured = this.captured!;
    if (chunk != null) {
      captured.addChunk(chunk);
      if (captured.overLimit) this.plugin.metrics.retrySkippedMemory();
    }
    if (end) captured.end(this.plugin.config.retry.maxStreamAnswerBytes > 0);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const assign = this.assign;
    if (assign == null || assign.ledger == null) return HeadersAction.Continue;
    const ledger = assign.ledger!;
    const first = ledger.first;
    const plugin = this.plugin;
    // The answer's headers are read once: status, Retry-After, rate limits and rules come from them.
    const head = new RawHeaders(getHeaderPairsRaw(MapType.ResponseHeaders));
    const status = max(0, head.getDecimal(":status"));
    // Named now for the route's attempt; a retry answer that takes its place names its own key.
    if (plugin.servedKey.on) plugin.servedKey.announce(first.key, [first.key]);
    const captured = this.captured;
    const retrying = captured != null && mayRetry(plugin, captured, 0, status) && STREAM_ORIGIN.fromProvider();
    ledger.routeHead(head, status, endOfStream, retrying);
    // The provider's failure is held back while the retry runs, in case it is the answer.
    if (retrying) {
      if (this.startRetry(endOfStream)) return HeadersAction.StopIteration;
    } else if (first.pending && captured != null && plugin.config.retry.retryOnFailureConditions &&
               mayRetryOnRule(plugin, captured, 0) && STREAM_ORIGIN.fromProvider() && plugin.bodyWait.hold(this.id, nowMs(), -1)) {
      // A failure rule still reads the body (never an event stream's): the answer waits for its verdict,
      // unless Envoy does not show the body to a filter holding the headers (then it goes on). Its
      // failure is held like a retried status's: the retry's answer tells whose it is.
      ledger.holdRoute();
      this.ruleHold = true;
      plugin.ticks.update(this.id);
      return HeadersAction.StopIteration;
    }
    this.attemptsOver();
    return HeadersAction.Continue;
  }

  // Starts retrying the route's failed answer (held meanwhile); false when no retry could be sent.
  private startRetry(endOfStream: bool): bool {
    const session = new RetrySession(this.plugin, this.id, this.captured!, this.assign!);
    this.retry = session;
    if (session.begin(endOfStream)) return true;
    this.retry = null;
    return false;
  }

  // The route's attempt ended without a retry: whose failures they were is decided, and the
  // request body need not be kept any longer.
  private attemptsOver(): void {
    this.assign!.ledger!.settle();
    const captured = this.captured;
    if (captured != null) captured.dropBody();
  }

  onResponseBody(size: usize, endOfStream: bool): DataAction {
    const assign = this.assign;
    if (assign == null || assign.ledger == null) return DataAction.Continue;
    const session = this.retry;
    const retrying = session != null && session.active;
    const seen = session != null ? session.bodySeen : this.ruleSeen;
    // A held failure's body is about to be replaced: its usage is not the request's.
    assign.ledger!.routeBody(size, seen, endOfStream, !retrying);
    if (this.ruleHold) {
      this.plugin.bodyWait.arrived(this.id);
      return this.afterRuleRead(size, endOfStream);
    }
    return retrying ? session!.onHeldBody(size, endOfStream) : DataAction.Continue;
  }

  // The held answer's body so far has been read by the failure rule: wait for more, retry it, or let it go.
  private afterRuleRead(size: usize, endOfStream: bool): DataAction {
    const first = this.assign!.ledger!.first;
    if (first.pending && !endOfStream) {
      this.ruleSeen = size;
      return DataAction.StopIterationAndBuffer;
    }
    this.ruleHold = false;
    this.ruleSeen = 0;
    if (first.failedByRule && this.startRetry(false)) return this.retry!.onHeldBody(size, endOfStream);
    this.attemptsOver();
    return DataAction.Continue;
  }

  /** From the root's tick: a held body did not come in time (Envoy hides it), so the request or the answer goes on. */
  goOnWithoutBody(): void {
    if (!this.ruleHold) {
      super.goOnWithoutBody();
      return;
    }
    this.ruleHold = false;
    this.ruleSeen = 0;
    this.attemptsOver();
    continueStream(StreamType.Response);
  }

  onLog(): void {
    const assign = this.assign;
    if (assign == null || assign.ledger == null) return;
    const ledger = assign.ledger!;
    // A body that never arrived whole (or never arrived: the answer was replaced) is judged on what did.
    ledger.routeOver();
    const plugin = this.plugin;
    const failover = plugin.failover;
    const first = ledger.first;
    learnRoute(plugin.shapes, failover != null ? failover.prober : null, this.clientHeaders!, this.captured != null,
      first.succeeded && is2xx(first.status));
  }

  onDelete(): void {
    super.onDelete();
    if (this.ruleHold) this.plugin.bodyWait.forget(this.id);
    const assign = this.assign;
    // A client that leaves while waiting frees its place at once.
    if (assign != null && assign.waiting && this.plugin.queue != null) this.plugin.queue!.leave(this.id, nowMs());
    const captured = this.captured;
    if (captured != null) captured.dropBody();
  }
}
