// Per-request work: choose a token, send it in place of the client's credentials, judge the
// provider's answer for that token, and retry a failed non-streaming request with other tokens.
import { BufferType, DataAction, HeadersAction, LogLevel, MapType, StreamType } from "../abi/enums";
import { getBufferBytes } from "../runtime/buffers";
import { HeaderList, getHeader, getHeaderDecimal, getHeaderPairs, getHeaderPairsRaw } from "../runtime/headers";
import { continueStream, getProperty, nowMs, setEffectiveContext } from "../runtime/host";
import { dispatchHttpCall, sendLocalResponse } from "../runtime/http";
import { StreamContext } from "../runtime/contexts";
import { log, logEnabled } from "../runtime/log";
import { PluginConfig } from "./config";
import { applyCredential } from "./credentials";
import { Failover, routeCluster } from "./failover";
import { Verdict, anyRuleMatches, judgeHead } from "./response_rules";
import { CapturedRequest, answerHeaders, asksForStream, isHostReply, replayHeaders } from "./retry";
import { retryAfterDeadline } from "./retry_after";
import { sameSecret } from "./status_page";
import { PluginRoot } from "./root";

const STATUS_HEADER = String.UTF8.encode(":status");

/** Bytes of a non-streaming response body kept to test failureConditions with a body. */
const BODY_RULE_LIMIT = 65536;
/** Bytes of a retry answer read (the answer the client may receive). */
const RETRY_ANSWER_LIMIT: usize = 16 << 20;

/** A provider answer received through a retry call. */
class Answer {
  constructor(public status: i32, public headers: HeaderList, public body: ArrayBuffer) {}
}

/** The HTTP filter of one stream. */
export class TokenFilter extends StreamContext {
  /** Index in apiTokens of the token the current attempt uses, -1 before one is chosen. */
  tokenIndex: i32 = -1;
  private status: i32 = 0;
  private headersForRules: HeaderList | null = null;
  private bodyForRules: string | null = null;
  // Retry state: the request as sent, tokens tried, retries sent, the last retry answer.
  private captured: CapturedRequest | null = null;
  private tried: i32[] | null = null;
  private retries: i32 = 0;
  private retrying: bool = false;
  private lastAnswer: Answer | null = null;
  /** Whether the current response came from the provider: -1 not asked yet, else 0 or 1. */
  private viaUpstream: i32 = -1;

  private get plugin(): PluginRoot { return changetype<PluginRoot>(this.root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const root = this.plugin;
    const cfg = root.config;
    if (cfg == null) return HeadersAction.Continue;
    if (cfg.statusPath.length > 0 && this.answerStatus(cfg)) return HeadersAction.StopIteration;
    const failover = root.failover;
    this.tokenIndex = failover != null ? failover.pick(root.random) : root.random.below(cfg.apiTokens.length);
    let sent: ArrayBuffer | null = null;
    if (cfg.retry.enabled && cfg.apiTokens.length > 1) {
      const captured = new CapturedRequest(getHeaderPairsRaw(MapType.RequestHeaders));
      this.captured = captured;
      sent = captured.headers;
    }
    applyCredential(cfg, root.credentials!, this.tokenIndex, sent);
    root.metrics.request(this.tokenIndex);
    return HeadersAction.Continue;
  }

  onRequestBody(size: usize, endOfStream: bool): DataAction {
    const captured = this.captured;
    if (captured != null && !captured.tooLarge && size > 0) {
      const chunk = getBufferBytes(BufferType.RequestBody, 0, size);
      if (chunk != null) captured.addChunk(chunk);
    }
    return DataAction.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    if (this.tokenIndex < 0) return HeadersAction.Continue;
    const root = this.plugin;
    this.status = getHeaderDecimal(MapType.ResponseHeaders, STATUS_HEADER);
    const failover = root.failover;
    if (failover != null) this.judgeResponse(failover, endOfStream);
    if (this.shouldRetry(this.status) && this.fromUpstream() && this.sendRetry()) return HeadersAction.StopIteration;
    return HeadersAction.Continue;
  }

  onResponseBody(size: usize, endOfStream: bool): DataAction {
    // While a retry is under way the provider's failure is held back, in case it is the answer.
    if (this.retrying) return DataAction.StopIterationAndBuffer;
    const seen = this.bodyForRules;
    if (seen == null) return DataAction.Continue;
    const room = BODY_RULE_LIMIT - seen.length;
    if (room > 0 && size > 0) {
      const chunk = getBufferBytes(BufferType.ResponseBody, 0, size < <usize>room ? size : <usize>room);
      if (chunk != null) this.bodyForRules = seen + String.UTF8.decode(chunk);
    }
    if (endOfStream || this.bodyForRules!.length >= BODY_RULE_LIMIT) this.judgeBody();
    return DataAction.Continue;
  }

  onLog(): void {
    // A response that ended without its last body chunk is judged on what arrived.
    if (this.bodyForRules != null) this.judgeBody();
  }

  /** Answers GET <statusPath> itself (the request never reaches the provider); false for other requests. */
  private answerStatus(cfg: PluginConfig): bool {
    const path = getHeader(MapType.RequestHeaders, ":path");
    if (path == null) return false;
    const q = path.indexOf("?");
    if ((q < 0 ? path : path.substring(0, q)) != cfg.statusPath) return false;
    const json = new HeaderList();
    json.add("content-type", "application/json");
    json.add("cache-control", "no-store");
    const auth = getHeader(MapType.RequestHeaders, "authorization");
    if (auth == null || !sameSecret(auth, "Bearer " + cfg.statusToken)) {
      json.add("www-authenticate", "Bearer");
      sendLocalResponse(401, "ai_token_failover_status_unauthorized", String.UTF8.encode("{\"error\":\"unauthorized\"}\n"), json);
      return true;
    }
    const method = getHeader(MapType.RequestHeaders, ":method");
    if (method != "GET") {
      json.add("allow", "GET");
      sendLocalResponse(405, "ai_token_failover_status_method", String.UTF8.encode("{\"error\":\"method not allowed\"}\n"), json);
      return true;
    }
    sendLocalResponse(200, "ai_token_failover_status", String.UTF8.encode(this.plugin.statusDocument()), json);
    return true;
  }

  // ---- judging the provider's answer for the token that was used

  /** Whether the response came from the provider, not from Envoy itself (connect failure, timeout, reset). */
  private fromUpstream(): bool {
    if (this.viaUpstream < 0) {
      const details = getProperty("response.code_details");
      this.viaUpstream = details == null || details == "via_upstream" ? 1 : 0;
    }
    return this.viaUpstream == 1;
  }

  private judgeResponse(failover: Failover, endOfStream: bool): void {
    const cfg = failover.cfg.failover;
    const headers = this.plugin.failureRulesNeedHeaders ? getHeaderPairs(MapType.ResponseHeaders) : null;
    const verdict = judgeHead(cfg.failoverOnStatus, cfg.failureConditions, this.status, headers);
    if (verdict == Verdict.Success) {
      failover.countSuccess(this.tokenIndex);
    } else if (this.fromUpstream()) {
      if (verdict == Verdict.Failure) {
        failover.countFailure(this.tokenIndex, this.status, this.retryAfter(getHeader(MapType.ResponseHeaders, "retry-after")));
      } else if (endOfStream || isEventStream()) {
        // Streams are judged on status and headers only.
        failover.countSuccess(this.tokenIndex);
      } else {
        this.headersForRules = headers;
        this.bodyForRules = "";
      }
    }
  }

  private judgeBody(): void {
    const failover = this.plugin.failover!;
    const body = this.bodyForRules!;
    this.bodyForRules = null;
    const headers = this.headersForRules;
    const failed = anyRuleMatches(failover.cfg.failover.failureConditions, this.status, headers, body);
    this.countJudged(failover, failed, headers != null ? headers.get("retry-after") : null);
  }

  /** Counts the current attempt's verdict for its token. */
  private countJudged(failover: Failover, failed: bool, retryAfter: string | null): void {
    if (failed) failover.countFailure(this.tokenIndex, this.status, this.retryAfter(retryAfter));
    else failover.countSuccess(this.tokenIndex);
  }

  private retryAfter(value: string | null): i64 {
    return this.status == 429 ? retryAfterDeadline(value, nowMs()) : 0;
  }

  /** Counts a retry answer (already this.status) for the token it used. */
  private judgeAnswer(failover: Failover, answer: Answer): void {
    const cfg = failover.cfg.failover;
    const verdict = judgeHead(cfg.failoverOnStatus, cfg.failureConditions, answer.status, answer.headers);
    const failed = verdict == Verdict.Failure ||
      (verdict == Verdict.NeedsBody && anyRuleMatches(cfg.failureConditions, answer.status, answer.headers, String.UTF8.decode(answer.body)));
    this.countJudged(failover, failed, answer.headers.get("retry-after"));
  }

  // ---- retry

  private shouldRetry(status: i32): bool {
    const cfg = this.plugin.config;
    const captured = this.captured;
    if (cfg == null || captured == null || captured.tooLarge) return false;
    if (this.retries >= cfg.retry.maxRetries || !cfg.retry.retryOnStatus.has(status)) return false;
    return !asksForStream(captured.body());
  }

  /** Sends the request again with a token not tried yet; false when none is left or the call failed. */
  private sendRetry(): bool {
    const root = this.plugin;
    const cfg = root.config!;
    let tried = this.tried;
    if (tried == null) {
      tried = [this.tokenIndex];
      this.tried = tried;
    }
    const failover = root.failover;
    const next = failover != null ? failover.pickUntried(root.random, tried) : this.randomUntried(tried, cfg.apiTokens.length);
    if (next < 0) return false;
    const cluster = routeCluster();
    if (cluster == null) return false;
    const captured = this.captured!;
    const callId = dispatchHttpCall(cluster, replayHeaders(captured.headers, cfg, cfg.apiTokens[next]), captured.body(), <u32>cfg.retry.retryTimeout);
    if (callId == 0) return false;
    this.tokenIndex = next;
    tried.push(next);
    this.retries++;
    this.retrying = true;
    root.retryCalls.set(callId, this.id);
    root.metrics.retryAttempted();
    root.metrics.request(next);
    if (logEnabled(LogLevel.Debug)) log(LogLevel.Debug, "retrying with token " + (failover != null ? failover.fingerprintOf(next) : "#" + next.toString()) + " after status " + this.status.toString());
    return true;
  }

  private randomUntried(tried: i32[], n: i32): i32 {
    const left = n - tried.length;
    if (left <= 0) return -1;
    let k = this.plugin.random.below(left);
    for (let i = 0; i < n; i++) {
      if (tried.includes(i)) continue;
      if (k-- == 0) return i;
    }
    return -1;
  }

  /** Answer of a retry call (from the root context); ends with a local response, a continue, or another retry. */
  onRetryAnswer(numHeaders: u32, bodySize: usize): void {
    const root = this.plugin;
    if (numHeaders == 0) {
      // The call itself failed (reset, or a timeout Envoy reports with no headers): not the token's
      // fault; the client gets the last provider answer.
      this.deliver(false);
      return;
    }
    const headers = getHeaderPairs(MapType.HttpCallResponseHeaders);
    const body = getBufferBytes(BufferType.HttpCallResponseBody, 0, bodySize < RETRY_ANSWER_LIMIT ? bodySize : RETRY_ANSWER_LIMIT);
    const answer = new Answer(headers.status(), headers, body != null ? body : new ArrayBuffer(0));
    if (isHostReply(answer.status, headers, answer.body)) {
      this.deliver(false);
      return;
    }
    this.lastAnswer = answer;
    this.status = answer.status;
    const failover = root.failover;
    if (failover != null) this.judgeAnswer(failover, answer);
    if (this.shouldRetry(answer.status)) {
      setEffectiveContext(this.id);
      if (this.sendRetry()) return;
    }
    this.deliver(!root.config!.retry.retryOnStatus.has(answer.status));
  }

  private deliver(succeeded: bool): void {
    const root = this.plugin;
    this.retrying = false;
    if (succeeded) root.metrics.retrySucceeded();
    else root.metrics.retryExhausted();
    if (!setEffectiveContext(this.id)) return;
    const answer = this.lastAnswer;
    if (answer == null) {
      continueStream(StreamType.Response);
      return;
    }
    if (!sendLocalResponse(<u32>answer.status, "ai_token_failover_retry", answer.body, answerHeaders(answer.headers))) {
      continueStream(StreamType.Response);
    }
  }
}

function isEventStream(): bool {
  const ct = getHeader(MapType.ResponseHeaders, "content-type");
  return ct != null && ct.includes("text/event-stream");
}
