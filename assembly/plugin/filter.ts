// Per-request work: choose a token, send it in place of the client's credentials, judge each
// upstream attempt for the token it carried, and retry a failed non-streaming request with other
// tokens the way the route sent it.
import { BufferType, DataAction, HeadersAction, LogLevel, MapType, StreamType } from "../abi/enums";
import { getBufferBytes } from "../runtime/buffers";
import { CallAnswer, CallHandler, dispatchCall, sendLocalResponse } from "../runtime/calls";
import { StreamContext } from "../runtime/contexts";
import { HeaderList, getHeader, getHeaderDecimal, getHeaderPairs, getHeaderPairsRaw, replaceHeaderBytes } from "../runtime/headers";
import { continueStream, getProperty, nowMs, randomU64 } from "../runtime/host";
import { log, logEnabled } from "../runtime/log";
import { Attempt, BODY_RULE_LIMIT, settleAttempts } from "./attempt";
import { PluginConfig } from "./config";
import { applyCredential, removeClientCredentials } from "./credentials";
import { routeCluster } from "./failover";
import { jsonString, parseJson } from "./json";
import { ScanKind, findTopLevel, topLevelInteger } from "./json_scan";
import { UsageScanner } from "./usage";
import { NO_BUDGET, NO_KEY } from "./pool_store";
import { FULL_RATE } from "./pool_state";
import { DEFAULT_HOLD_MS, requestsBackAt, resetAt } from "./rate_limit";
import { aimsProbes, targetFromShape } from "./probe";
import { CapturedRequest, asksForStream, isHostReply, replayHeaders } from "./retry";
import { Delivery, HeldBody, replaceHeld, replyWith } from "./held_answer";
import { RouteShape, pathOnly, shapeKey } from "./route_shape";
import { dashboardPage, dashboardPolicy, wantsPage } from "./dashboard";
import { sameSecret } from "./status_page";
import { AnswerOrigin } from "./verdict";
import { Plugin } from "./plugin";
import { RootContext } from "../runtime/contexts";

const STATUS_HEADER = String.UTF8.encode(":status");
const MODEL_KEY = String.UTF8.encode("model");
const MAX_TOKENS_KEY = String.UTF8.encode("max_tokens");
const MAX_COMPLETION_TOKENS_KEY = String.UTF8.encode("max_completion_tokens");

/** Tokens a prompt is expected to use: a quarter of the body's bytes (about what an OpenAI tokenizer gives for English and code). */
export function promptTokens(body: ArrayBuffer): i64 {
  return (<i64>body.byteLength + 3) / 4;
}

/** The completion a request asks for (`max_completion_tokens`, else `max_tokens`; 0 when absent). */
export function completionTokens(body: ArrayBuffer): i64 {
  let completion = topLevelInteger(body, MAX_COMPLETION_TOKENS_KEY);
  if (completion < 0) completion = topLevelInteger(body, MAX_TOKENS_KEY);
  return completion > 0 ? completion : 0;
}
const ACCEPT_ENCODING = String.UTF8.encode("accept-encoding");
const IDENTITY = String.UTF8.encode("identity");

/**
 * Bytes of a retry answer the plugin delivers at most. A larger answer is never cut: the client
 * receives the provider's original failure instead (and the warning log says why).
 */
export const RETRY_ANSWER_LIMIT: usize = 4 << 20;

/** The route's answer: from the provider unless Envoy made it (`response.code_details`). */
class StreamOrigin extends AnswerOrigin {
  fromProvider(): bool {
    const details = getProperty("response.code_details");
    return details == null || details == "via_upstream";
  }
}

/** A retry answer: Envoy's own replies to a call are recognised (isHostReply) before it is judged. */
class CallOrigin extends AnswerOrigin {
  fromProvider(): bool { return true; }
}

const STREAM_ORIGIN = new StreamOrigin();
const CALL_ORIGIN = new CallOrigin();

/** The answer of one retry call, for the attempt that sent it. */
class RetryCall extends CallHandler {
  constructor(public filter: TokenFilter, public attempt: Attempt) {
    super();
    this.owner = filter.id;
  }
  onAnswer(answer: CallAnswer | null): void { this.filter.onRetryAnswer(this.attempt, answer); }
  onOrphan(answer: CallAnswer | null): void { this.filter.judgeOrphan(this.attempt, answer); }
}

function is2xx(status: i32): bool { return status >= 200 && status < 300; }

/** The HTTP filter of one stream. */
export class TokenFilter extends StreamContext {
  /** The attempt the route sent (null before a token is chosen, and for status requests). */
  private first: Attempt | null = null;
  /** Headers held until the body names the model (some key has a model list). */
  private holding: bool = false;
  /** The request's `model` (null: none, or not needed to choose). */
  private model: string | null = null;
  /** The request's expected prompt and completion tokens (0 without token budgets); each key caps them (Budgets.estimateFor). */
  private prompt: i64 = 0;
  private completion: i64 = 0;
  /** Reads the provider's usage from the route's answer, for the first attempt's token budget. */
  private usage: UsageScanner | null = null;
  /** The request headers as the client sent them (serialized), read once. */
  private clientHeaders: ArrayBuffer | null = null;
  private captured: CapturedRequest | null = null;
  private streamRequested: bool = false;
  /** Every upstream attempt of this request: the route's, then each retry. */
  private attempts: Attempt[] = [];
  private retries: i32 = 0;
  private retrying: bool = false;
  private delivery: Delivery | null = null;
  /** How much of the held (failed) answer's body is buffered. */
  private held: HeldBody = HeldBody.NotYet;
  /** A retry answer waiting for the rest of the held answer's body, which it then replaces. */
  private waiting: Delivery | null = null;
  /** Bytes of the response body buffer already read (Envoy hands a buffered body again, grown). */
  private bodySeen: usize = 0;

  constructor(id: u32, root: RootContext, private readonly plugin: Plugin) { super(id, root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const root = this.plugin;
    const cfg = root.config;
    if (cfg == null) return HeadersAction.Continue;
    const raw = getHeaderPairsRaw(MapType.RequestHeaders);
    const path = pathOnly(rawText(raw, ":path"));
    if (cfg.statusPath.length > 0 && path == cfg.statusPath) {
      this.answerStatus(cfg);
      return HeadersAction.StopIteration;
    }
    // Only inference requests get a key; any other request goes on without the client's credentials.
    if (!cfg.servesPath(path)) {
      removeClientCredentials(root.credentials!, raw, null);
      return HeadersAction.Continue;
    }
    this.clientHeaders = raw;
    if (cfg.retry.enabled && cfg.apiTokens.length > 1) {
      const captured = new CapturedRequest(raw, root.heldBodies);
      captured.complete = endOfStream;
      this.captured = captured;
    }
    // With model lists the key depends on the body's model, with token budgets on its size: the
    // headers wait for it (Envoy needs allow_on_headers_stop_iteration to deliver the body meanwhile).
    const budgets = root.budgets;
    if ((root.chooser!.byModel || (budgets != null && budgets.countsTokens)) && !endOfStream) {
      // Without allow_on_headers_stop_iteration the body never comes: then no request is held.
      if (!root.bodyWait.hold(this.id, nowMs())) return this.chooseWithoutBody(cfg) ? HeadersAction.Continue : HeadersAction.StopIteration;
      root.ticks.update(this.id);
      this.holding = true;
      return HeadersAction.StopIteration;
    }
    return this.chooseKey(cfg, null) ? HeadersAction.Continue : HeadersAction.StopIteration;
  }

  /**
   * Chooses a key without the request body (Envoy does not show it to a filter holding the
   * headers): the model is unknown, so keys without a model list serve it, and a token budget
   * counts the answer's usage only. When every key has a model list, the client is told the fix.
   */
  private chooseWithoutBody(cfg: PluginConfig): bool {
    if (this.plugin.chooser!.anyServes(null)) return this.chooseKey(cfg, null);
    const body = "{\"error\":{\"message\":\"the gateway cannot read the request's model: its Wasm filter needs " +
      "allow_on_headers_stop_iteration: true\",\"type\":\"server_error\",\"param\":null,\"code\":\"gateway_misconfigured\"}}\n";
    sendLocalResponse(500, "ai_token_failover_body_hidden", String.UTF8.encode(body), jsonHeaders());
    return false;
  }

  /** Called from the root's tick (this stream effective): the body did not come in time, the request goes on without it. */
  goOnWithoutBody(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.chooseWithoutBody(this.plugin.config!)) continueStream(StreamType.Request);
  }

  /**
   * Chooses the key for `model`, puts it in place of the client's credentials, and starts the
   * attempt; false when the plugin answered itself (no key serves the model: 400; every key that
   * does is rate-limited: 429).
   */
  private chooseKey(cfg: PluginConfig, model: string | null): bool {
    const root = this.plugin;
    const chooser = root.chooser!;
    const failover = root.failover;
    const budgets = root.budgets;
    const now = budgets != null ? nowMs() : 0;
    let excluded: i32[] | null = budgets != null ? budgets.emptyKeys(now) : null;
    let token = NO_KEY;
    let reserved: i64 = 0;
    // A key whose budget runs out as it is taken is left out and another chosen.
    for (let tries = 0; tries < 4; tries++) {
      token = failover != null ? failover.choose(root.random, chooser, model, excluded, budgets, root.headroom.table)
        : chooser.choose(root.random, root.allKeys, model, excluded, null, null);
      if (token < 0 || budgets == null) break;
      reserved = this.reserve(token, now);
      if (reserved >= 0) break;
      if (excluded == null) excluded = [];
      excluded.push(token);
      token = NO_BUDGET;
    }
    if (token < 0) {
      const until = failover != null && token == NO_BUDGET ? failover.store.noBudgetUntil
        : budgets != null ? budgets.earliestFor(chooser, model) : 0;
      if (token == NO_BUDGET || until > 0) this.answerNoBudget(until);
      else this.answerNoKey(model);
      return false;
    }
    if (budgets != null && budgets.countsTokens) this.usage = new UsageScanner();
    this.model = model;
    const first = new Attempt(token);
    first.reserved = reserved;
    this.first = first;
    this.attempts.push(first);
    applyCredential(cfg, root.credentials!, token, this.clientHeaders!);
    // A body rule must read the answer: ask for it uncompressed.
    if (root.failureRulesNeedBody) replaceHeaderBytes(MapType.RequestHeaders, ACCEPT_ENCODING, IDENTITY);
    root.metrics.request(token);
    return true;
  }

  private answerNoKey(model: string | null): void {
    const message = model != null ? "no configured key serves the model " + jsonString(model)
      : "this gateway needs a \"model\" in the request body to choose a key";
    const body = "{\"error\":{\"message\":" + jsonString(message) +
      ",\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}\n";
    sendLocalResponse(400, "ai_token_failover_no_key_for_model", String.UTF8.encode(body), jsonHeaders());
  }

  private answerNoBudget(until: i64): void {
    const wait = until - nowMs();
    const seconds = wait <= 0 ? 1 : <i32>((wait + 999) / 1000);
    const headers = jsonHeaders();
    headers.add("retry-after", seconds.toString());
    const body = "{\"error\":{\"message\":\"every key that serves this request has reached its rate limit; retry after " +
      seconds.toString() + " s\",\"type\":\"rate_limit_exceeded\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n";
    sendLocalResponse(429, "ai_token_failover_no_budget", String.UTF8.encode(body), headers);
  }

  onRequestBody(size: usize, endOfStream: bool): DataAction {
    if (this.holding) return this.onHeldBody(size, endOfStream);
    const captured = this.captured;
    if (captured == null || captured.dropped) return DataAction.Continue;
    if (size > 0) {
      const chunk = getBufferBytes(BufferType.RequestBody, 0, size);
      if (chunk != null) captured.addChunk(chunk);
      if (captured.overLimit) this.plugin.metrics.retrySkippedMemory();
    }
    if (endOfStream) {
      captured.complete = true;
      // A streaming request is never retried: its body is not kept for the stream's life.
      if (!captured.dropped && asksForStream(captured.body())) {
        this.streamRequested = true;
        captured.dropBody();
      }
    }
    return DataAction.Continue;
  }

  // The headers wait for the whole body (Envoy buffers it and hands it whole each time); then the
  // model decides the key, and headers and body go on together.
  private onHeldBody(size: usize, endOfStream: bool): DataAction {
    this.plugin.bodyWait.arrived(this.id);
    if (!endOfStream) return DataAction.StopIterationAndBuffer;
    this.holding = false;
    const body = size > 0 ? getBufferBytes(BufferType.RequestBody, 0, size) : null;
    const bytes = body != null ? body : new ArrayBuffer(0);
    const captured = this.captured;
    if (captured != null) {
      captured.addChunk(bytes);
      if (captured.overLimit) this.plugin.metrics.retrySkippedMemory();
      captured.complete = true;
      if (!captured.dropped && asksForStream(captured.body())) {
        this.streamRequested = true;
        captured.dropBody();
      }
    }
    const budgets = this.plugin.budgets;
    if (budgets != null && budgets.countsTokens) {
      this.prompt = promptTokens(bytes);
      this.completion = completionTokens(bytes);
    }
    return this.chooseKey(this.plugin.config!, modelOf(bytes)) ? DataAction.Continue : DataAction.StopIterationNoBuffer;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const first = this.first;
    if (first == null) return HeadersAction.Continue;
    const root = this.plugin;
    const status = getHeaderDecimal(MapType.ResponseHeaders, STATUS_HEADER);
    const failover = root.failover;
    first.status = status;
    const retry = this.mayRetry(status) && STREAM_ORIGIN.fromProvider();
    if (failover == null && root.budgets != null) this.followRateLimit(first.token, status, null);
    if (failover != null) {
      // A failure about to be retried is held: the other keys' answers tell whose it is.
      first.defer = retry;
      const headers = root.failureRulesNeedHeaders ? getHeaderPairs(MapType.ResponseHeaders) : null;
      const needBody = root.failureRulesNeedBody;
      // Streams are judged on status and headers only.
      const bodyFollows = !endOfStream && needBody && !isEventStream();
      const encoding = needBody ? getHeader(MapType.ResponseHeaders, "content-encoding") : null;
      const retryAfter = status == 429 ? getHeader(MapType.ResponseHeaders, "retry-after") : null;
      first.judge(failover, status, headers, retryAfter, STREAM_ORIGIN, status == 429 ? nowMs() : 0, bodyFollows, encoding);
      this.followRateLimit(first.token, status, null);
    }
    if (retry && this.sendRetry()) {
      // The provider's failure is held back while the retry runs, in case it is the answer.
      this.retrying = true;
      this.held = endOfStream ? HeldBody.Absent : HeldBody.NotYet;
      return HeadersAction.StopIteration;
    }
    this.settle();
    const captured = this.captured;
    if (captured != null) captured.dropBody();
    return HeadersAction.Continue;
  }

  onResponseBody(size: usize, endOfStream: bool): DataAction {
    const first = this.first;
    const failover = this.plugin.failover;
    const usage = this.usage;
    if (usage != null && first != null && !this.retrying && size > this.bodySeen) {
      const chunk = getBufferBytes(BufferType.ResponseBody, this.bodySeen, size - this.bodySeen);
      if (chunk != null) usage.feedBuffer(chunk);
    }
    if (first != null && failover != null && first.pending) {
      const seen = this.bodySeen;
      if (first.wantsBody && size > seen) {
        const want = size - seen;
        const chunk = getBufferBytes(BufferType.ResponseBody, seen, want < <usize>first.room ? want : <usize>first.room);
        if (chunk != null) first.addBody(chunk);
      }
      if (endOfStream || !first.wantsBody) first.finishBody(failover, STREAM_ORIGIN, first.status == 429 ? nowMs() : 0, endOfStream);
    }
    if (this.retrying) {
      // Envoy hands the whole buffered body each time (the new chunk included).
      this.bodySeen = size;
      this.held = endOfStream ? HeldBody.Complete : HeldBody.Arriving;
      this.plugin.bodyWait.arrived(this.id);
      const waiting = this.waiting;
      if (waiting == null || !endOfStream) return DataAction.StopIterationAndBuffer;
      this.waiting = null;
      this.endRetry();
      if (replaceHeld(waiting, size) || !replyWith(waiting)) return DataAction.Continue;
      return DataAction.StopIterationNoBuffer;
    }
    this.bodySeen = 0;
    return DataAction.Continue;
  }

  onLog(): void {
    const first = this.first;
    if (first == null) return;
    const root = this.plugin;
    const usage = this.usage;
    // The provider's count replaces the estimate in the key's token budget.
    if (usage != null) this.settleUsage(first, usage.total);
    const failover = root.failover;
    // A body that never arrived whole (or never arrived: the answer was replaced) is judged on what did.
    if (failover != null && first.pending) first.finishBody(failover, STREAM_ORIGIN, nowMs(), false);
    // Only now does the request map hold what the router sent (rewritten host and path, route headers).
    // Learned only from a request the router did send (a later filter's local reply leaves the map as the client sent it).
    const client = this.clientHeaders!;
    const now = nowMs();
    const learnRoute = this.captured != null && this.plugin.shapes.get(shapeKey(client), now) == null && STREAM_ORIGIN.fromProvider();
    // Probes go where a request succeeded, never where one failed: no client can aim them.
    const learnTarget = failover != null && first.succeeded && is2xx(first.status) && failover.wantsTarget(now) &&
      aimsProbes(rawText(client, ":path")) && STREAM_ORIGIN.fromProvider();
    if (!learnRoute && !learnTarget) return;
    const shape = RouteShape.derive(HeaderList.parse(client), getHeaderPairs(MapType.RequestHeaders), now);
    if (shape == null) return;
    if (learnRoute) this.plugin.shapes.learn(shapeKey(client), shape);
    if (learnTarget) {
      const cluster = routeCluster();
      if (cluster != null) failover!.recordTarget(targetFromShape(cluster, shape), now);
    }
  }

  onDelete(): void {
    if (this.holding) this.plugin.bodyWait.forget(this.id);
    const captured = this.captured;
    if (captured != null) captured.dropBody();
  }

  /** Answers a request for <statusPath> itself (it never reaches the provider). */
  private answerStatus(cfg: PluginConfig): void {
    const method = getHeader(MapType.RequestHeaders, ":method");
    // A browser gets the dashboard page: it holds no data, so it needs no token to load.
    if (method == "GET" && wantsPage(getHeader(MapType.RequestHeaders, "accept"))) {
      // From the host's random source: the key-choice generator's output could be predicted.
      const nonce = randomU64().toString(16) + randomU64().toString(16);
      const html = new HeaderList();
      html.add("content-type", "text/html; charset=utf-8");
      html.add("cache-control", "no-store");
      html.add("content-security-policy", dashboardPolicy(nonce));
      html.add("x-content-type-options", "nosniff");
      html.add("referrer-policy", "no-referrer");
      sendLocalResponse(200, "ai_token_failover_dashboard", String.UTF8.encode(dashboardPage(nonce)), html);
      return;
    }
    const json = new HeaderList();
    json.add("content-type", "application/json");
    json.add("cache-control", "no-store");
    const auth = getHeader(MapType.RequestHeaders, "authorization");
    if (auth == null || !sameSecret(auth, "Bearer " + cfg.statusToken)) {
      json.add("www-authenticate", "Bearer");
      sendLocalResponse(401, "ai_token_failover_status_unauthorized", String.UTF8.encode("{\"error\":\"unauthorized\"}\n"), json);
      return;
    }
    if (method != "GET") {
      json.add("allow", "GET");
      sendLocalResponse(405, "ai_token_failover_status_method", String.UTF8.encode("{\"error\":\"method not allowed\"}\n"), json);
      return;
    }
    sendLocalResponse(200, "ai_token_failover_status", String.UTF8.encode(this.plugin.statusDocument()), json);
  }

  /**
   * The provider's rate-limit headers (of the route's answer, or of a retry answer's `headers`):
   * a key that reports no requests or tokens left is not chosen by any VM before one is back (requestsBackAt).
   */
  private followRateLimit(token: i32, status: i32, headers: HeaderList | null): void {
    const names = this.plugin.rateLimit;
    const requestsLeft = headerDecimal(headers, names.remainingRequests, names.remainingRequestsKey);
    const tokensLeft = headerDecimal(headers, names.remainingTokens, names.remainingTokensKey);
    const budgets = this.plugin.budgets;
    if (budgets != null) budgets.report(token, requestsLeft, tokensLeft);
    const failover = this.plugin.failover;
    if (failover == null) return;
    if (requestsLeft > 0) this.plugin.headroom.set(token, requestsLeft, headerDecimal(headers, names.limitRequests, names.limitRequestsKey));
    if (requestsLeft != 0 && tokensLeft != 0) return;
    const now = nowMs();
    let until: i64 = 0;
    if (requestsLeft == 0) {
      const reset = resetAt(headerText(headers, names.resetRequests), names.resetIsTime, now);
      const key = this.plugin.config!.keys[token];
      const limit = headerDecimal(headers, names.limitRequests, names.limitRequestsKey);
      // A refused request says the refill has not come yet: then the whole reset is waited for.
      const continuous = key.rpm > 0 && key.burst == 0 && status < 300;
      until = requestsBackAt(reset, now, limit, continuous);
    }
    if (tokensLeft == 0) {
      const t = resetAt(headerText(headers, names.resetTokens), names.resetIsTime, now);
      if (t > until) until = t;
    }
    failover.limit(token, until > now ? until : now + DEFAULT_HOLD_MS);
  }

  // ---- retry

  /** Whether an answer with `status` may be retried: replayable request, attempts left, status listed. */
  private mayRetry(status: i32): bool {
    const cfg = this.plugin.config;
    const captured = this.captured;
    if (cfg == null || captured == null || !captured.replayable || this.streamRequested) return false;
    return this.retries < cfg.retry.maxRetries && cfg.retry.retryOnStatus.has(status);
  }

  /** Sends the request again with a token not tried yet; false when none is left or the call failed. */
  private sendRetry(): bool {
    const root = this.plugin;
    const cfg = root.config!;
    const failover = root.failover;
    const chooser = root.chooser!;
    const skip: i32[] = [];
    for (let k = 0; k < this.attempts.length; k++) skip.push(this.attempts[k].token);
    let next = -1;
    let reserved: i64 = 0;
    // Retries spend budget too; a key without budget is skipped like a tried one.
    for (let tries = 0; tries < 4 && next < 0; tries++) {
      next = failover != null ? failover.chooseUntried(root.random, chooser, this.model, skip, root.headroom.table)
        : chooser.choose(root.random, root.allKeys, this.model, skip, null, null);
      if (next < 0) return false;
      if (root.budgets == null) break;
      reserved = this.reserve(next, nowMs());
      if (reserved < 0) {
        skip.push(next);
        next = -1;
      }
    }
    if (next < 0) return false;
    const cluster = routeCluster();
    if (cluster == null) return false;
    const captured = this.captured!;
    // Without a learned shape the request goes as the client sent it, and only a success counts.
    // A route another VM of the process has seen counts as known (one shared-data read, on failure only).
    const shape = this.plugin.shapes.find(shapeKey(captured.headers), nowMs());
    const attempt = new Attempt(next);
    attempt.reserved = reserved;
    attempt.unconfirmed = shape == null;
    attempt.defer = true;
    const headers = replayHeaders(HeaderList.parse(captured.headers), shape, cfg, cfg.apiTokens[next], root.failureRulesNeedBody);
    if (!dispatchCall(cluster, headers, captured.body(), <u32>cfg.retry.retryTimeout, new RetryCall(this, attempt))) return false;
    this.attempts.push(attempt);
    this.retries++;
    root.metrics.retryAttempted();
    root.metrics.request(next);
    if (logEnabled(LogLevel.Debug)) {
      log(LogLevel.Debug, "retrying with token " + (failover != null ? failover.fingerprintOf(next) : "#" + next.toString()) +
        (shape == null ? " (route shape not learned yet)" : ""));
    }
    return true;
  }

  /** Judges a retry answer for its attempt; returns the answer's body, or null for a failed call. */
  private judgeRetryAnswer(attempt: Attempt, answer: CallAnswer, limit: usize): ArrayBuffer | null {
    const body = answer.body(limit);
    const status = answer.status;
    if (isHostReply(status, answer.headers, body)) return null;
    const failover = this.plugin.failover;
    // A guessed route may have answered for the wrong host or path: only a success proves anything.
    if (failover != null && (!attempt.unconfirmed || is2xx(status))) {
      attempt.judgeWhole(failover, status, answer.headers, body, CALL_ORIGIN, status == 429 ? nowMs() : 0);
      this.followRateLimit(attempt.token, status, answer.headers);
    }
    const budgets = this.plugin.budgets;
    if (budgets != null && budgets.countsTokens) {
      attempt.status = status;
      const usage = new UsageScanner();
      usage.feedBuffer(body);
      this.settleUsage(attempt, usage.total);
    }
    return body;
  }

  /**
   * Corrects an attempt's token reservation with what its answer used (`total`, -1: not said): a
   * refused request used nothing, a success without usage keeps the estimate.
   */
  private settleUsage(attempt: Attempt, total: i64): void {
    const budgets = this.plugin.budgets;
    if (budgets == null || attempt.usageSettled) return;
    attempt.usageSettled = true;
    const actual = total >= 0 ? total : attempt.status > 0 && !is2xx(attempt.status) ? 0 : -1;
    if (actual < 0) return;
    budgets.settleTokens(attempt.token, attempt.reserved, actual, this.factorOf(attempt.token), nowMs());
  }

  /** Key i's AIMD share (thousandths), which scales its budgets. */
  private factorOf(i: i32): i32 {
    const failover = this.plugin.failover;
    return failover != null ? failover.factorOf(i) : FULL_RATE;
  }

  /** Takes key i's budget for one attempt of this request: the tokens reserved, or -1 when the key has none left. */
  private reserve(i: i32, now: i64): i64 {
    const budgets = this.plugin.budgets!;
    const factor = this.factorOf(i);
    const reserved = budgets.estimateFor(i, this.prompt, this.completion, factor);
    return budgets.take(i, reserved, factor, now) ? reserved : -1;
  }

  /** Answer of a retry call (this stream is effective): ends with a local response, a continue, or another retry. */
  onRetryAnswer(attempt: Attempt, answer: CallAnswer | null): void {
    const cfg = this.plugin.config!;
    if (answer == null) {
      // The call itself failed (reset): not the token's fault; the client gets the last provider answer.
      this.settle();
      this.deliver(false);
      return;
    }
    const tooLarge = answer.bodySize > RETRY_ANSWER_LIMIT;
    const body = this.judgeRetryAnswer(attempt, answer, tooLarge ? <usize>BODY_RULE_LIMIT : RETRY_ANSWER_LIMIT);
    if (body == null) {
      this.settle();
      this.deliver(false);
      return;
    }
    const status = answer.status;
    if (tooLarge && logEnabled(LogLevel.Warn)) {
      log(LogLevel.Warn, "a retry answer of " + answer.bodySize.toString() + " bytes is over the " +
        RETRY_ANSWER_LIMIT.toString() + "-byte limit: the client receives the provider's first answer");
    }
    const deliverable = !tooLarge && (!attempt.unconfirmed || is2xx(status));
    if (deliverable) this.delivery = new Delivery(status, answer.headers, body);
    const retryable = cfg.retry.retryOnStatus.has(status);
    if (retryable && this.mayRetry(status) && this.sendRetry()) return;
    this.settle();
    this.deliver(deliverable && !retryable);
  }

  /** A retry answer that arrived after the client left still counts for its token. */
  judgeOrphan(attempt: Attempt, answer: CallAnswer | null): void {
    if (answer != null) this.judgeRetryAnswer(attempt, answer, <usize>BODY_RULE_LIMIT);
    this.settle();
  }

  /** The request's attempts are over: whose fault each held failure was is decided now. */
  private settle(): void {
    const failover = this.plugin.failover;
    if (failover != null) settleAttempts(failover, this.attempts);
  }

  /**
   * Ends the retries: the client gets the retry answer chosen (`delivery`) or, when there is none,
   * the held provider answer. The retry answer replaces the held one in place once its body is
   * all buffered, and waits for that body while it is arriving (or has not started, once this VM
   * has seen Envoy call the filter with body data while holding its headers); otherwise it is a
   * local reply.
   */
  private deliver(succeeded: bool): void {
    const root = this.plugin;
    if (succeeded) root.metrics.retrySucceeded();
    else root.metrics.retryExhausted();
    const captured = this.captured;
    if (captured != null) captured.dropBody();
    const answer = this.delivery;
    this.delivery = null;
    if (answer != null && (this.held == HeldBody.Arriving || (this.held == HeldBody.NotYet && root.bodyWait.shown))) {
      this.waiting = answer;
      return;
    }
    const size = this.bodySeen;
    this.endRetry();
    if (answer == null || (this.held == HeldBody.Complete && replaceHeld(answer, size)) || !replyWith(answer)) {
      continueStream(StreamType.Response);
    }
  }

  private endRetry(): void {
    this.retrying = false;
    this.bodySeen = 0;
  }
}

function jsonHeaders(): HeaderList {
  const h = new HeaderList();
  h.add("content-type", "application/json");
  return h;
}

/**
 * A header of the route's answer (`list` null: read from the host as bytes, `key` being `name`
 * encoded, no string built) or of a call answer, as a number; -1 when absent or not a number.
 */
function headerDecimal(list: HeaderList | null, name: string, key: ArrayBuffer): i32 {
  if (list == null) return getHeaderDecimal(MapType.ResponseHeaders, key);
  const v = list.get(name);
  if (v == null || v.length == 0 || v.length > 9) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

function headerText(list: HeaderList | null, name: string): string | null {
  return list != null ? list.get(name) : getHeader(MapType.ResponseHeaders, name);
}

/** The top-level `model` of a JSON request body, or null (one linear pass; escapes decoded). */
export function modelOf(body: ArrayBuffer): string | null {
  const r = findTopLevel(body, body.byteLength, MODEL_KEY);
  if (r.kind != ScanKind.String) return null;
  const raw = String.UTF8.decodeUnsafe(changetype<usize>(body) + <usize>r.start, <usize>(r.end - r.start), false);
  if (!raw.includes("\\")) return raw;
  const parsed = parseJson("\"" + raw + "\"");
  return parsed != null ? parsed.str : null;
}

function isEventStream(): bool {
  const ct = getHeader(MapType.ResponseHeaders, "content-type");
  return ct != null && ct.includes("text/event-stream");
}

/** The value of header `name` in a serialized map, as a string ("" when absent). */
function rawText(raw: ArrayBuffer, name: string): string {
  const at = HeaderList.rawFind(raw, name);
  if (at == 0) return "";
  return String.UTF8.decodeUnsafe(<usize>(at >> 32), <usize>(at & 0xffffffff), false);
}
