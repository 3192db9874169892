// Outgoing HTTP calls and their answers. The owner of a call is recorded when it is dispatched;
// when the answer arrives the owner's stream is made effective before its handler runs, and an
// answer whose stream is gone goes to the handler's orphan path: the one place that decides it.
import { proxy_http_call, proxy_send_local_response } from "../abi/imports";
import { BufferType, MapType, Status } from "../abi/enums";
import { getBufferBytes } from "./buffers";
import { findStream } from "./contexts";
import { HeaderList } from "../util/header_list";
import { getHeaderPairs } from "./headers";
import { setEffectiveContext } from "./host";
import { SLOT_EXTRA, ptrOf, utf8 } from "./memory";

/** A serialized header map with no pairs. */
const NO_TRAILERS = new ArrayBuffer(4);

/** The answer of an HTTP call; its body can be read only while the handler runs. */
export class CallAnswer {
  constructor(public headers: HeaderList, public bodySize: usize) {}

  /** The `:status` of the answer. */
  get status(): i32 { return this.headers.status(); }

  /** Up to `limit` bytes of the body (empty when there is none). */
  body(limit: usize): ArrayBuffer {
    if (this.bodySize == 0) return new ArrayBuffer(0);
    const b = getBufferBytes(BufferType.HttpCallResponseBody, 0, this.bodySize < limit ? this.bodySize : limit);
    return b != null ? b : new ArrayBuffer(0);
  }
}

/** Receives the answer of one call. `owner` is the stream it belongs to, 0 for the root context. */
export abstract class CallHandler {
  owner: u32 = 0;
  /** The answer (null: the call failed: reset, or refused by the host); the owner's stream is effective. */
  abstract onAnswer(answer: CallAnswer | null): void;
  /** The owner's stream ended before the answer arrived: nothing may be done to the stream. */
  onOrphan(answer: CallAnswer | null): void {}
}

const pending = new Map<u32, CallHandler>();

/** Dispatches a call to an Envoy cluster; false when the host refused it (the handler is not called). */
export function dispatchCall(cluster: string, headers: HeaderList, body: ArrayBuffer, timeoutMs: u32, handler: CallHandler): bool {
  const upstream = utf8(cluster);
  const hdrs = headers.serialize();
  store<u32>(SLOT_EXTRA, 0);
  // No trailers, sent as an empty map (a zero pair count): Envoy reads an empty buffer the same
  // way, and Higress's test host reads only this form.
  const status = proxy_http_call(
    ptrOf(upstream), upstream.byteLength, ptrOf(hdrs), hdrs.byteLength,
    ptrOf(body), body.byteLength, ptrOf(NO_TRAILERS), NO_TRAILERS.byteLength, timeoutMs, SLOT_EXTRA,
  );
  if (status != Status.Ok) return false;
  pending.set(load<u32>(SLOT_EXTRA), handler);
  return true;
}

/** Routes the answer of call `callId` to its handler (from proxy_on_http_call_response). */
export function routeCallAnswer(callId: u32, numHeaders: u32, bodySize: usize): void {
  if (!pending.has(callId)) return;
  const handler = pending.get(callId);
  pending.delete(callId);
  const answer: CallAnswer | null = numHeaders == 0 ? null : new CallAnswer(getHeaderPairs(MapType.HttpCallResponseHeaders), bodySize);
  const owner = handler.owner;
  if (owner != 0 && (findStream(owner) == null || !setEffectiveContext(owner))) {
    handler.onOrphan(answer);
    return;
  }
  handler.onAnswer(answer);
}

/** Answers the effective stream with a response made here; takes effect when the callback returns. */
export function sendLocalResponse(status: u32, details: string, body: ArrayBuffer, headers: HeaderList): bool {
  const d = utf8(details);
  const h = headers.serialize();
  return proxy_send_local_response(status, ptrOf(d), d.byteLength, ptrOf(body), body.byteLength, ptrOf(h), h.byteLength, -1) == Status.Ok;
}
