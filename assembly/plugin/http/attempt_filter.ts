// The plugin as an upstream HTTP filter of the cluster (`upstreamFilter`): Envoy builds it for
// every attempt of the router, so each attempt gets a key, one no earlier attempt of the request
// used while one is left (TriedKeys, by x-request-id), and its answer is judged for that key.
// Envoy's retry_policy retries (streams included, before their first byte); nothing is captured
// for a replay. The request is seen as sent: the route's rewrites are already applied.
import { DataAction, HeadersAction, MapType } from "../../abi/enums";
import { getHeaderPairsRaw, removeHeaderBytes } from "../../runtime/headers";
import { nowMs } from "../../runtime/host";
import { HeaderList, RawHeaders } from "../../util/header_list";
import { PROBE_MARK_HEADER } from "../pool/probe";
import { Chosen } from "../request/key_assignment";
import { KeyedStream } from "./keyed_stream";

const PROBE_MARK = String.UTF8.encode(PROBE_MARK_HEADER);

export class AttemptFilter extends KeyedStream {
  private finished: bool = false;
  private requestId: string = "";
  /** When the attempt started (ms): the clock of TriedKeys, read once. */
  private startedAt: i64 = 0;

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const plugin = this.plugin;
    const raw = getHeaderPairsRaw(MapType.RequestHeaders);
    // The plugin's own probes go through this cluster too: they keep the key they carry. The mark
    // is a secret of the process, and never reaches the provider.
    const mark = HeaderList.rawText(raw, PROBE_MARK_HEADER);
    if (mark.length > 0) {
      removeHeaderBytes(MapType.RequestHeaders, PROBE_MARK);
      if (mark == plugin.probeMark) return HeadersAction.Continue;
    }
    const at = HeaderList.rawPath(raw);
    if (!this.isInference(raw, <usize>(at >> 32), <i32>(at & 0xffffffff))) return HeadersAction.Continue;
    const assign = this.assignKey(raw);
    this.requestId = HeaderList.rawText(raw, "x-request-id");
    const attempt = new RawHeaders(raw).getDecimal("x-envoy-attempt-count");
    this.startedAt = nowMs();
    assign.tried = plugin.triedKeys.tried(this.requestId, attempt < 0 ? 0 : attempt, this.startedAt);
    return this.chooseOrHold(endOfStream, this.startedAt);
  }

  // The attempt's key is recorded for the request's later attempts.
  protected choose(): Chosen {
    const assign = this.assign!;
    const chosen = assign.choose();
    const ledger = assign.ledger;
    if (chosen == Chosen.Sent && ledger != null) this.plugin.triedKeys.record(this.requestId, ledger.first.key, this.startedAt);
    return chosen;
  }

  onRequestBody(size: usize, endOfStream: bool): DataAction {
    if (!this.holding) return DataAction.Continue;
    return this.heldBody(size, endOfStream) == null ? DataAction.StopIterationAndBuffer : KeyedStream.afterBody(this.choose());
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const assign = this.assign;
    if (assign == null || assign.ledger == null) return HeadersAction.Continue;
    const ledger = assign.ledger!;
    const first = ledger.first;
    const head = new RawHeaders(getHeaderPairsRaw(MapType.ResponseHeaders));
    const status = max(0, head.getDecimal(":status"));
    const served = this.plugin.servedKey;
    if (served.on) {
      // Envoy sends the client the last attempt's answer: each attempt names itself after the earlier ones.
      const earlier = assign.tried;
      const tried = earlier != null ? earlier.slice(0) : new Array<i32>();
      tried.push(first.key);
      served.announce(first.key, tried);
    }
    ledger.routeHead(head, status, endOfStream, false);
    if (endOfStream) this.finish();
    return HeadersAction.Continue;
  }

  onResponseBody(size: usize, endOfStream: bool): DataAction {
    const assign = this.assign;
    if (assign == null || assign.ledger == null) return DataAction.Continue;
    // Envoy hands an upstream filter each chunk once: nothing of it was read before.
    assign.ledger!.routeBody(size, 0, endOfStream, true);
    if (endOfStream) this.finish();
    return DataAction.Continue;
  }

  onLog(): void { this.finish(); }

  // The attempt is over: its answer is settled (usage, a body rule still waiting) and its failure
  // attributed. Once, from the end of the answer or the log, whichever is first.
  private finish(): void {
    const assign = this.assign;
    if (this.finished || assign == null || assign.ledger == null) return;
    this.finished = true;
    const ledger = assign.ledger!;
    ledger.routeOver();
    ledger.settle();
  }
}
