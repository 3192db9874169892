// The HTTP filter of one stream: routes Envoy's callbacks to the objects that do the work. It
// chooses a key (KeySelector) and sends it in place of the client's credentials, judges the
// route's answer for that key, and hands a failed non-streaming request to its RetrySession.
import { BufferType, DataAction, HeadersAction, MapType, StreamType } from "../../abi/enums";
import { getBufferBytes } from "../../runtime/buffers";
import { RootContext, StreamContext } from "../../runtime/contexts";
import { HeaderList } from "../../util/header_list";
import { getHeader, getHeaderDecimal, getHeaderPairs, getHeaderPairsRaw, replaceHeaderBytes } from "../../runtime/headers";
import { continueStream, nowMs } from "../../runtime/host";
import { STREAM_ORIGIN } from "../judge/answer_origin";
import { Attempt, settleAttempts } from "../judge/attempt";
import { applyCredential, removeClientCredentials } from "../keys/credentials";
import { KeySelector, PickKind } from "../keys/key_selector";
import { answerBodyHidden, answerNoBudget, answerNoKey } from "./local_replies";
import { Plugin } from "../plugin";

import { followRateLimit } from "../budget/rate_limit_follow";
import { RequestFacts, completionTokens, modelOf, promptTokens } from "../keys/request_body";
import { CapturedRequest } from "../retry/replay";
import { RetrySession } from "../retry/retry_session";
import { pathOnly } from "../retry/route_shape";
import { answerStatus } from "./status_endpoint";
import { UsageScanner } from "../judge/usage";
import { learnRoute } from "./route_learning";

const STATUS_HEADER = String.UTF8.encode(":status");
const ACCEPT_ENCODING = String.UTF8.encode("accept-encoding");
const IDENTITY = String.UTF8.encode("identity");

export class TokenFilter extends StreamContext {
  private readonly selector: KeySelector;
  private readonly request: RequestFacts = new RequestFacts();
  /** The attempt the route sent (null before a token is chosen, and for status requests). */
  private first: Attempt | null = null;
  /** Every upstream attempt of this request: the route's, then each retry. */
  private attempts: Attempt[] = [];
  /** Headers held until the body names the model (some key has a model list). */
  private holding: bool = false;
  /** Reads the provider's usage from the route's answer, for the first attempt's token budget. */
  private usage: UsageScanner | null = null;
  /** The request headers as the client sent them (serialized), read once. */
  private clientHeaders: ArrayBuffer | null = null;
  /** Null when retry is off (or one key only) and for requests that get no key. */
  private retry: RetrySession | null = null;

  constructor(id: u32, root: RootContext, private readonly plugin: Plugin) {
    super(id, root);
    this.selector = new KeySelector(plugin);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const plugin = this.plugin;
    const cfg = plugin.config;
    const raw = getHeaderPairsRaw(MapType.RequestHeaders);
    const path = pathOnly(HeaderList.rawText(raw, ":path"));
    if (cfg.statusPath.length > 0 && path == cfg.statusPath) {
      answerStatus(plugin);
      return HeadersAction.StopIteration;
    }
    // Only inference requests get a key; any other request goes on without the client's credentials.
    if (!cfg.servesPath(path)) {
      removeClientCredentials(plugin.credentials, raw, null);
      return HeadersAction.Continue;
    }
    this.clientHeaders = raw;
    if (cfg.retry.enabled && cfg.apiTokens.length > 1) {
      const captured = new CapturedRequest(raw, plugin.heldBodies);
      captured.complete = endOfStream;
      this.retry = new RetrySession(plugin, this.id, captured, this.attempts, this.request, this.selector);
    }
    // With model lists the key depends on the body's model, with token budgets on its size: the
    // headers wait for it (Envoy needs allow_on_headers_stop_iteration to deliver the body meanwhile).
    const budgets = plugin.budgets;
    if ((plugin.chooser.byModel || (budgets != null && budgets.countsTokens)) && !endOfStream) {
      // Without allow_on_headers_stop_iteration the body never comes: then no request is held.
      if (!plugin.bodyWait.hold(this.id, nowMs())) return this.chooseWithoutBody() ? HeadersAction.Continue : HeadersAction.StopIteration;
      plugin.ticks.update(this.id);
      this.holding = true;
      return HeadersAction.StopIteration;
    }
    return this.chooseKey() ? HeadersAction.Continue : HeadersAction.StopIteration;
  }

  /**
   * Chooses a key without the request body (Envoy does not show it to a filter holding the
   * headers): the model is unknown, so keys without a model list serve it, and a token budget
   * counts the answer's usage only. When every key has a model list, the client is told the fix.
   */
  private chooseWithoutBody(): bool {
    if (this.plugin.chooser.anyServes(null)) return this.chooseKey();
    answerBodyHidden();
    return false;
  }

  /** Called from the root's tick (this stream effective): the body did not come in time, the request goes on without it. */
  goOnWithoutBody(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.chooseWithoutBody()) continueStream(StreamType.Request);
  }

  /**
   * Chooses the key for the request, puts it in place of the client's credentials, and starts the
   * attempt; false when the plugin answered itself (no key serves the model: 400; every key that
   * does is rate-limited: 429).
   */
  private chooseKey(): bool {
    const plugin = this.plugin;
    const pick = this.selector.first(this.request);
    if (pick.kind == PickKind.NoBudget) {
      answerNoBudget(pick.until);
      return false;
    }
    if (pick.kind == PickKind.NoKey) {
      answerNoKey(this.request.model);
      return false;
    }
    const budgets = plugin.budgets;
    if (budgets != null && budgets.countsTokens) this.usage = new UsageScanner();
    const first = new Attempt(pick.token);
    first.reserved = pick.reserved;
    this.first = first;
    this.attempts.push(first);
    applyCredential(plugin.config, plugin.credentials, pick.token, this.clientHeaders!);
    // A body rule must read the answer: ask for it uncompressed.
    if (plugin.failureRulesNeedBody) replaceHeaderBytes(MapType.RequestHeaders, ACCEPT_ENCODING, IDENTITY);
    plugin.metrics.request(pick.token);
    return true;
  }

  onRequestBody(size: usize, endOfStream: bool): DataAction {
    if (this.holding) return this.onHeldRequestBody(size, endOfStream);
    const retry = this.retry;
    if (retry == null || retry.captured.dropped) return DataAction.Continue;
    retry.addRequestBody(size > 0 ? getBufferBytes(BufferType.RequestBody, 0, size) : null, endOfStream);
    return DataAction.Continue;
  }

  // The headers wait for the whole body (Envoy buffers it and hands it whole each time); then the
  // model decides the key, and headers and body go on together.
  private onHeldRequestBody(size: usize, endOfStream: bool): DataAction {
    this.plugin.bodyWait.arrived(this.id);
    if (!endOfStream) return DataAction.StopIterationAndBuffer;
    this.holding = false;
    const body = size > 0 ? getBufferBytes(BufferType.RequestBody, 0, size) : null;
    const bytes = body != null ? body : new ArrayBuffer(0);
    const retry = this.retry;
    if (retry != null) retry.addRequestBody(bytes, true);
    const budgets = this.plugin.budgets;
    if (budgets != null && budgets.countsTokens) {
      this.request.prompt = promptTokens(bytes);
      this.request.completion = completionTokens(bytes);
    }
    this.request.model = modelOf(bytes);
    return this.chooseKey() ? DataAction.Continue : DataAction.StopIterationNoBuffer;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const first = this.first;
    if (first == null) return HeadersAction.Continue;
    const plugin = this.plugin;
    const status = getHeaderDecimal(MapType.ResponseHeaders, STATUS_HEADER);
    const failover = plugin.failover;
    first.status = status;
    const session = this.retry;
    const retrying = session != null && session.mayRetry(status) && STREAM_ORIGIN.fromProvider();
    if (failover == null && plugin.budgets != null) followRateLimit(plugin, first.token, status, null);
    if (failover != null) {
      // A failure about to be retried is held: the other keys' answers tell whose it is.
      first.defer = retrying;
      const headers = plugin.failureRulesNeedHeaders ? getHeaderPairs(MapType.ResponseHeaders) : null;
      const needBody = plugin.failureRulesNeedBody;
      // Streams are judged on status and headers only.
      const bodyFollows = !endOfStream && needBody && !isEventStream();
      const encoding = needBody ? getHeader(MapType.ResponseHeaders, "content-encoding") : null;
      const retryAfter = status == 429 ? getHeader(MapType.ResponseHeaders, "retry-after") : null;
      first.judge(failover, status, headers, retryAfter, STREAM_ORIGIN, status == 429 ? nowMs() : 0, bodyFollows, encoding);
      followRateLimit(plugin, first.token, status, null);
    }
    // The provider's failure is held back while the retry runs, in case it is the answer.
    if (retrying && session!.begin(endOfStream)) return HeadersAction.StopIteration;
    if (failover != null) settleAttempts(failover, this.attempts);
    if (session != null) session.finish();
    return HeadersAction.Continue;
  }

  onResponseBody(size: usize, endOfStream: bool): DataAction {
    const first = this.first;
    const failover = this.plugin.failover;
    const session = this.retry;
    const retrying = session != null && session.active;
    const seen = session != null ? session.bodySeen : 0;
    const usage = this.usage;
    if (usage != null && first != null && !retrying && size > seen) {
      const chunk = getBufferBytes(BufferType.ResponseBody, seen, size - seen);
      if (chunk != null) usage.feedBuffer(chunk);
    }
    if (first != null && failover != null && first.pending) {
      if (first.wantsBody && size > seen) {
        const want = size - seen;
        const chunk = getBufferBytes(BufferType.ResponseBody, seen, want < <usize>first.room ? want : <usize>first.room);
        if (chunk != null) first.addBody(chunk);
      }
      if (endOfStream || !first.wantsBody) first.finishBody(failover, STREAM_ORIGIN, first.status == 429 ? nowMs() : 0, endOfStream);
    }
    return retrying ? session!.onHeldBody(size, endOfStream) : DataAction.Continue;
  }

  onLog(): void {
    const first = this.first;
    if (first == null) return;
    const plugin = this.plugin;
    const usage = this.usage;
    // The provider's count replaces the estimate in the key's token budget.
    if (usage != null) this.selector.settleUsage(first, usage.total);
    const failover = plugin.failover;
    // A body that never arrived whole (or never arrived: the answer was replaced) is judged on what did.
    if (failover != null && first.pending) first.finishBody(failover, STREAM_ORIGIN, nowMs(), false);
    learnRoute(this.plugin, first, this.clientHeaders!, this.retry != null);
  }

  onDelete(): void {
    if (this.holding) this.plugin.bodyWait.forget(this.id);
    const retry = this.retry;
    if (retry != null) retry.captured.dropBody();
  }
}

function isEventStream(): bool {
  const ct = getHeader(MapType.ResponseHeaders, "content-type");
  return ct != null && ct.includes("text/event-stream");
}
