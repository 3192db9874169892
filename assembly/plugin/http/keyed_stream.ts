// What both placements of the filter (downstream TokenFilter, upstream AttemptFilter) share: the
// request's key assignment, and holding its headers until the body names the model (some key has
// a model list) or its size counts against a token budget.
import { BufferType, DataAction, HeadersAction, StreamType } from "../../abi/enums";
import { getBufferBytes } from "../../runtime/buffers";
import { RootContext, StreamContext } from "../../runtime/contexts";
import { continueStream, getPropertyInt } from "../../runtime/host";
import { promptTokens } from "../keys/request_body";
import { Plugin } from "../plugin";
import { PathKind } from "../config/config";
import { Chosen, KeyAssignment, affinityOf } from "../request/key_assignment";
import { removeClientCredentials } from "../keys/credentials";
import { sendListing } from "../request/listing";
import { answerBodyHidden } from "../request/local_replies";

export abstract class KeyedStream extends StreamContext {
  /** The key of an inference request (null for other requests). */
  protected assign: KeyAssignment | null = null;
  /** The headers wait for the body. */
  protected holding: bool = false;

  constructor(id: u32, root: RootContext, protected readonly plugin: Plugin) {
    super(id, root);
  }

  /**
   * Whether the request (`raw`: its headers; its path's `len` bytes at `ptr`) is an inference
   * request, which gets a key assignment. Any other goes on at once: a listing (see
   * PathKind.Listing) with a key of the pool, nothing judging its answer; the rest without a key.
   * The client's credentials never go on.
   */
  protected isInference(raw: ArrayBuffer, ptr: usize, len: i32): bool {
    const kind = this.plugin.config.pathKindAt(ptr, len, raw);
    if (kind == PathKind.Inference) return true;
    if (kind == PathKind.Unkeyed || !sendListing(this.plugin, raw)) removeClientCredentials(this.plugin.credentials, raw, null);
    return false;
  }

  /** The key assignment of an inference request (`raw`: its headers), with its consumer's affinity. */
  protected assignKey(raw: ArrayBuffer): KeyAssignment {
    const assign = new KeyAssignment(this.plugin, this.id, raw);
    assign.affinity = affinityOf(this.plugin.config, raw);
    this.assign = assign;
    return assign;
  }

  /** Chooses the key (the assignment is set); a placement adds what it does with the choice. */
  protected choose(): Chosen {
    return this.assign!.choose();
  }

  /** The request-headers answer: the key chosen now, or the headers held for the body. */
  protected chooseOrHold(endOfStream: bool, now: i64): HeadersAction {
    const plugin = this.plugin;
    // A consumer named only in the body (affinity.bodyField, no affinity header) is read from it too.
    const byBody = plugin.choosesByBody || (plugin.config.affinityBodyField != null && this.assign!.affinity == 0);
    if (byBody && !endOfStream) {
      // Without allow_on_headers_stop_iteration the body never comes: then no request is held.
      if (!plugin.bodyWait.hold(this.id, now, getPropertyInt("request.total_size"))) return this.chooseWithoutBody() == Chosen.Sent ? HeadersAction.Continue : HeadersAction.StopIteration;
      plugin.ticks.update(this.id);
      this.holding = true;
      return HeadersAction.StopIteration;
    }
    return this.choose() == Chosen.Sent ? HeadersAction.Continue : HeadersAction.StopIteration;
  }

  /**
   * Chooses a key without the request body (Envoy does not show it to a filter holding the
   * headers): the model is unknown, so keys without a model list serve it, and a token budget
   * counts the answer's usage only. When every key has a model list, the client is told the fix.
   */
  private chooseWithoutBody(): Chosen {
    if (this.plugin.chooser.anyServes(null)) return this.choose();
    answerBodyHidden();
    return Chosen.Answered;
  }

  /** Called from the root's tick (this stream effective): the body did not come in time, the request goes on without it. */
  goOnWithoutBody(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.chooseWithoutBody() == Chosen.Sent) continueStream(StreamType.Request);
  }

  /**
   * A chunk of a held request's body (Envoy buffers it and hands it whole each time): null until
   * it is complete, then the whole body, which now names the model and size the key is chosen by.
   */
  protected heldBody(size: usize, endOfStream: bool): ArrayBuffer | null {
    this.plugin.bodyWait.arrived(this.id);
    if (!endOfStream) return null;
    this.holding = false;
    const body = size > 0 ? getBufferBytes(BufferType.RequestBody, 0, size) : null;
    const bytes = body != null ? body : new ArrayBuffer(0);
    const assign = this.assign!;
    const read = this.plugin.bodyReader.read(bytes);
    const budgets = this.plugin.budgets;
    if (budgets != null && budgets.countsTokens) {
      assign.prompt = promptTokens(bytes);
      assign.completion = read.completion;
    }
    assign.model = read.model;
    assign.modelAmbiguous = read.modelAmbiguous;
    if (assign.affinity == 0 && read.affinity != 0) assign.nameConsumer(read.affinity);
    return bytes;
  }

  /** The body callback's answer once the key is chosen: go on, wait in the queue, or stop (answered). */
  protected static afterBody(chosen: Chosen): DataAction {
    return chosen == Chosen.Sent ? DataAction.Continue : chosen == Chosen.Waiting ? DataAction.StopIterationAndBuffer : DataAction.StopIterationNoBuffer;
  }

  onDelete(): void {
    if (this.holding) this.plugin.bodyWait.forget(this.id);
  }
}
