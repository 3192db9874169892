// Retry on failure (SPEC 6): what a request must keep to be sent again, and how a replay is built.
import { ByteBuffer } from "../../util/byte_buffer";
import { HeaderList } from "../../util/header_list";
import { PluginConfig } from "../config/config";
import { isCredential } from "../keys/credential_headers";
import { asksForStream } from "../keys/request_body";
import { HOP_BY_HOP, RouteShape, queryOf } from "../route/route_shape";
import { HeldBodies, KeptBody } from "../streams/held_bodies";
import { Clock } from "../../util/clock";
import { withoutParams } from "../../util/query_params";

/** Request bodies larger than this are not retried (nor kept). */
export const MAX_RETRY_BODY: i32 = 1 << 20;

/** The parts of a client request kept while it may still be replayed. */
export class CapturedRequest extends KeptBody {
  private kept: ByteBuffer = new ByteBuffer();
  /** The body is not kept (too large, or no longer needed): no replay. */
  dropped: bool = false;
  /** The body was given up because the VM already holds its limit of bodies (or it stalled while others needed room). */
  overLimit: bool = false;
  /** The whole body has arrived. */
  complete: bool = false;
  /** The request asks for a streamed answer: a retry's whole answer is its stream (see RetrySession). */
  streaming: bool = false;

  /** `clock` is read only when the VM's bodies are at their limit. */
  constructor(public headers: ArrayBuffer, private held: HeldBodies, private clock: Clock) { super(); }

  /** Keeps one body chunk, or gives the body up once it passes MAX_RETRY_BODY or the VM's limit. */
  addChunk(chunk: ArrayBuffer): void {
    if (this.dropped) return;
    const n = chunk.byteLength;
    if (this.kept.used + n > MAX_RETRY_BODY) {
      this.dropBody();
      return;
    }
    const cap = <i64>this.kept.capacityFor(n, MAX_RETRY_BODY);
    if (cap > this.counted && this.held.used - this.counted + cap > this.held.limit && !this.held.fits(cap - this.counted, this.clock.now())) {
      this.giveUp();
      return;
    }
    this.held.starts(this);
    this.held.used += cap - this.counted;
    this.counted = cap;
    this.size += n;
    this.kept.append(chunk, n, MAX_RETRY_BODY);
  }

  /** Gives the body up for want of room: the request goes without a retry. */
  giveUp(): void {
    this.dropBody();
    this.overLimit = true;
  }

  /** Frees the body; the request can no longer be replayed (its headers stay, for learning the route). */
  dropBody(): void {
    this.dropped = true;
    this.held.ends(this);
    this.kept.clear();
    this.held.used -= this.counted;
    this.counted = 0;
  }

  /** The body is complete. `keepStreams` false: a streaming request's body is given up (it is not retried). */
  end(keepStreams: bool): void {
    this.complete = true;
    this.held.ends(this);
    if (!this.dropped && asksForStream(this.body())) {
      this.streaming = true;
      if (!keepStreams) this.dropBody();
    }
  }

  /** Whether the request can be replayed now. */
  get replayable(): bool { return this.complete && !this.dropped; }

  /** The whole body kept so far. */
  body(): ArrayBuffer { return this.kept.bytes(); }

  /** The whole body while it is kept. */
  bodyBytes(): ArrayBuffer | null { return this.dropped || !this.complete ? null : this.body(); }
}

/**
 * The request as the route sent it, for a replay with `token`: the client's headers without
 * credentials (`params`: the query parameters that carry one) and hop-by-hop headers, then the
 * route's host, path and headers when its shape is known. `identity` asks for an uncompressed
 * answer (a body rule must read it).
 */
export function replayHeaders(original: HeaderList, shape: RouteShape | null, cfg: PluginConfig, params: string[], token: string, identity: bool): HeaderList {
  const out = new HeaderList();
  for (let i = 0; i < original.length; i++) {
    const name = original.names[i].toLowerCase();
    if (isCredential(cfg, name) || HOP_BY_HOP.includes(name)) continue;
    if (identity && name == "accept-encoding") continue;
    let value = original.values[i];
    if (name == ":path") {
      const clean = withoutParams(value, params);
      if (clean != null) value = clean;
    }
    if (shape != null) {
      if (shape.removed.includes(name) || shape.changed.get(name) != null) continue;
      if (name == ":authority") value = shape.authority;
      else if (name == ":path") value = shape.path + queryOf(value);
    }
    out.add(original.names[i], value);
  }
  if (shape != null) {
    for (let i = 0; i < shape.changed.length; i++) out.add(shape.changed.names[i], shape.changed.values[i]);
  }
  if (identity) out.add("accept-encoding", "identity");
  out.add(cfg.credentialHeader, cfg.credentialPrefix + token);
  return out;
}

/** The provider's headers for the client: pseudo, hop-by-hop and length headers are the host's. */
export function answerHeaders(headers: HeaderList): HeaderList {
  const out = new HeaderList();
  for (let i = 0; i < headers.length; i++) {
    const name = headers.names[i].toLowerCase();
    if (name.startsWith(":") || HOP_BY_HOP.includes(name)) continue;
    out.add(headers.names[i], headers.values[i]);
  }
  return out;
}

// Bodies of the replies Envoy's router makes itself for an HTTP call (timeout, connect failure,
// overflow); such an answer is a failed call, not the provider's.
const HOST_REPLIES = ["upstream request timeout", "upstream connect error or disconnect/reset before headers",
  "no healthy upstream", "upstream overflow", "upstream max stream duration reached"];

/** Whether a call answer was made by Envoy itself rather than by the provider. */
export function isHostReply(status: i32, headers: HeaderList, body: ArrayBuffer): bool {
  if (status != 503 && status != 504) return false;
  const ct = headers.get("content-type");
  if (ct != null && !ct.startsWith("text/plain")) return false;
  const text = String.UTF8.decode(body.byteLength > 200 ? body.slice(0, 200) : body);
  for (let i = 0; i < HOST_REPLIES.length; i++) if (text.startsWith(HOST_REPLIES[i])) return true;
  return false;
}
