// The plugin as an upstream HTTP filter of the cluster (`upstreamFilter`): Envoy builds it for
// every attempt of the router, so each attempt gets a key, one no earlier attempt of the request
// used while one is left (the ledger, by x-request-id), and its answer is judged for that key.
// Envoy's retry_policy retries (streams included, before their first byte); nothing is captured
// for a replay. The request is seen as sent: the route's rewrites are already applied.
import { BufferType, DataAction, HeadersAction, MapType, StreamType } from "../../abi/enums";
import { getBufferBytes } from "../../runtime/buffers";
import { RootContext, StreamContext } from "../../runtime/contexts";
import { getHeaderPairsRaw, removeHeaderBytes } from "../../runtime/headers";
import { continueStream, nowMs } from "../../runtime/host";
import { HeaderList, RawHeaders } from "../../util/header_list";
import { decimalOf } from "../../util/decimal";
import { settleAttempts } from "../judge/attempt";
import { STREAM_ORIGIN } from "../judge/answer_origin";
import { judgeRouteBody, judgeRouteHead } from "../judge/route_answer";
import { removeClientCredentials } from "../keys/credentials";
import { completionTokens, modelOf, promptTokens } from "../keys/request_body";
import { PROBE_MARK_HEADER } from "../pool/probe";
import { Plugin } from "../plugin";
import { Chosen, KeyAssignment, affinityOf } from "./key_assignment";
import { answerBodyHidden } from "./local_replies";

const PROBE_MARK = String.UTF8.encode(PROBE_MARK_HEADER);

export class AttemptFilter extends StreamContext {
  private assign: KeyAssignment | null = null;
  private holding: bool = false;
  private finished: bool = false;
  private requestId: string = "";
  /** When the attempt started (ms): the ledger's clock, read once. */
  private startedAt: i64 = 0;

  constructor(id: u32, root: RootContext, private readonly plugin: Plugin) {
    super(id, root);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const plugin = this.plugin;
    const cfg = plugin.config;
    const raw = getHeaderPairsRaw(MapType.RequestHeaders);
    // The plugin's own probes go through this cluster too: they keep the key they carry. The mark
    // is a secret of the process, and never reaches the provider.
    const mark = HeaderList.rawText(raw, PROBE_MARK_HEADER);
    if (mark.length > 0) {
      removeHeaderBytes(MapType.RequestHeaders, PROBE_MARK);
      if (mark == plugin.probeMark) return HeadersAction.Continue;
    }
    const at = HeaderList.rawPath(raw);
    if (!cfg.servesPathAt(<usize>(at >> 32), <i32>(at & 0xffffffff))) {
      removeClientCredentials(plugin.credentials, raw, null);
      return HeadersAction.Continue;
    }
    const assign = new KeyAssignment(plugin, this.id, raw);
    assign.affinity = affinityOf(cfg, raw);
    this.requestId = HeaderList.rawText(raw, "x-request-id");
    const attempt = <i32>decimalOf(HeaderList.rawText(raw, "x-envoy-attempt-count"));
    this.startedAt = nowMs();
    assign.tried = plugin.ledger.tried(this.requestId, attempt < 0 ? 0 : attempt, this.startedAt);
    this.assign = assign;
    const budgets = plugin.budgets;
    if ((plugin.chooser.byModel || (budgets != null && budgets.countsTokens)) && !endOfStream) {
      if (!plugin.bodyWait.hold(this.id, this.startedAt)) return this.chooseWithoutBody() == Chosen.Sent ? HeadersAction.Continue : HeadersAction.StopIteration;
      plugin.ticks.update(this.id);
      this.holding = true;
      return HeadersAction.StopIteration;
    }
    return this.choose() == Chosen.Sent ? HeadersAction.Continue : HeadersAction.StopIteration;
  }

  private choose(): Chosen {
    const assign = this.assign!;
    const chosen = assign.choose();
    const first = assign.first;
    if (chosen == Chosen.Sent && first != null) this.plugin.ledger.record(this.requestId, first.token, this.startedAt);
    return chosen;
  }

  private chooseWithoutBody(): Chosen {
    if (this.plugin.chooser.anyServes(null)) return this.choose();
    answerBodyHidden();
    return Chosen.Answered;
  }

  /** Called from the root's tick (this stream effective): the body did not come in time. */
  goOnWithoutBody(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.chooseWithoutBody() == Chosen.Sent) continueStream(StreamType.Request);
  }

  onRequestBody(size: usize, endOfStream: bool): DataAction {
    if (!this.holding) return DataAction.Continue;
    this.plugin.bodyWait.arrived(this.id);
    if (!endOfStream) return DataAction.StopIterationAndBuffer;
    this.holding = false;
    const body = size > 0 ? getBufferBytes(BufferType.RequestBody, 0, size) : null;
    const bytes = body != null ? body : new ArrayBuffer(0);
    const assign = this.assign!;
    const budgets = this.plugin.budgets;
    if (budgets != null && budgets.countsTokens) {
      assign.prompt = promptTokens(bytes);
      assign.completion = completionTokens(bytes);
    }
    assign.model = modelOf(bytes);
    return this.choose() == Chosen.Sent ? DataAction.Continue : DataAction.StopIterationNoBuffer;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const assign = this.assign;
    if (assign == null || assign.first == null) return HeadersAction.Continue;
    const first = assign.first!;
    const head = new RawHeaders(getHeaderPairsRaw(MapType.ResponseHeaders));
    const status = max(0, head.getDecimal(":status"));
    first.status = status;
    judgeRouteHead(this.plugin, first, head, status, endOfStream, false);
    const failover = this.plugin.failover;
    if (failover != null) settleAttempts(failover, assign.attempts);
    if (endOfStream) this.finish();
    return HeadersAction.Continue;
  }

  onResponseBody(size: usize, endOfStream: bool): DataAction {
    const assign = this.assign;
    if (assign == null || assign.first == null) return DataAction.Continue;
    const first = assign.first!;
    const usage = assign.usage;
    if (usage != null && size > 0) {
      const chunk = getBufferBytes(BufferType.ResponseBody, 0, size);
      if (chunk != null) usage.feedBuffer(chunk);
    }
    const failover = this.plugin.failover;
    if (failover != null && first.pending) judgeRouteBody(failover, first, size, 0, endOfStream);
    if (endOfStream) this.finish();
    return DataAction.Continue;
  }

  onLog(): void { this.finish(); }

  // The attempt is over: the provider's usage corrects the key's token budget, a body rule still
  // waiting is judged on what arrived. Once, from the end of the answer or the log, whichever is first.
  private finish(): void {
    const assign = this.assign;
    if (this.finished || assign == null || assign.first == null) return;
    this.finished = true;
    const first = assign.first!;
    const usage = assign.usage;
    if (usage != null) this.plugin.selector.settleUsage(first, usage.total);
    const failover = this.plugin.failover;
    if (failover != null && first.pending) first.finishBody(failover, STREAM_ORIGIN, nowMs(), false);
  }

  onDelete(): void {
    if (this.holding) this.plugin.bodyWait.forget(this.id);
  }
}
