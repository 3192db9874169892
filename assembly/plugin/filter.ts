// Per-request work: choose a token, send it in place of the client's credentials, and judge the
// upstream's answer for that token.
import { BufferType, DataAction, HeadersAction, MapType } from "../abi/enums";
import { getBufferBytes } from "../runtime/buffers";
import { HeaderList, getHeader, getHeaderPairs } from "../runtime/headers";
import { getProperty, nowMs } from "../runtime/host";
import { StreamContext } from "../runtime/contexts";
import { applyCredential } from "./credentials";
import { Failover } from "./failover";
import { Verdict, anyRuleMatches, judgeHead } from "./response_rules";
import { retryAfterDeadline } from "./retry_after";
import { PluginRoot } from "./root";

/** Bytes of a non-streaming response body kept to test failureConditions with a body. */
const BODY_RULE_LIMIT = 65536;

/** The HTTP filter of one stream. */
export class TokenFilter extends StreamContext {
  /** Index in apiTokens of the token this request uses, -1 before one is chosen. */
  tokenIndex: i32 = -1;
  private status: i32 = 0;
  private headersForRules: HeaderList | null = null;
  private bodyForRules: string | null = null;

  private get plugin(): PluginRoot { return changetype<PluginRoot>(this.root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const root = this.plugin;
    const cfg = root.config;
    if (cfg == null) return HeadersAction.Continue;
    const failover = root.failover;
    this.tokenIndex = failover != null ? failover.pick(root.random) : root.random.below(cfg.apiTokens.length);
    applyCredential(cfg, cfg.apiTokens[this.tokenIndex]);
    return HeadersAction.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const root = this.plugin;
    const failover = root.failover;
    if (failover == null || this.tokenIndex < 0) return HeadersAction.Continue;
    const cfg = failover.cfg.failover;
    const statusText = getHeader(MapType.ResponseHeaders, ":status");
    this.status = statusText != null ? I32.parseInt(statusText) : 0;
    const headers = root.failureRulesNeedHeaders ? getHeaderPairs(MapType.ResponseHeaders) : null;
    const verdict = judgeHead(cfg.failoverOnStatus, cfg.failureConditions, this.status, headers);
    if (verdict == Verdict.Success) {
      failover.countSuccess(this.tokenIndex);
    } else if (fromUpstream()) {
      if (verdict == Verdict.Failure) {
        this.countFailure(failover);
      } else if (endOfStream || isEventStream()) {
        // Streams are judged on status and headers only.
        failover.countSuccess(this.tokenIndex);
      } else {
        this.headersForRules = headers;
        this.bodyForRules = "";
      }
    }
    return HeadersAction.Continue;
  }

  onResponseBody(size: usize, endOfStream: bool): DataAction {
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

  private judgeBody(): void {
    const failover = this.plugin.failover!;
    const body = this.bodyForRules!;
    this.bodyForRules = null;
    if (anyRuleMatches(failover.cfg.failover.failureConditions, this.status, this.headersForRules, body)) this.countFailure(failover);
    else failover.countSuccess(this.tokenIndex);
  }

  private countFailure(failover: Failover): void {
    let retryAfterAt: i64 = 0;
    if (this.status == 429) retryAfterAt = retryAfterDeadline(getHeader(MapType.ResponseHeaders, "retry-after"), nowMs());
    failover.countFailure(this.tokenIndex, this.status, retryAfterAt);
  }
}

/** Whether the response came from the provider, not from Envoy itself (connect failure, timeout, reset). */
function fromUpstream(): bool {
  const details = getProperty("response.code_details");
  return details == null || details == "via_upstream";
}

function isEventStream(): bool {
  const ct = getHeader(MapType.ResponseHeaders, "content-type");
  return ct != null && ct.includes("text/event-stream");
}
