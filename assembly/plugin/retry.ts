// Retry on failure (SPEC 6): what a request must keep to be sent again, and how a replay is built.
import { HeaderList } from "../runtime/headers";
import { PluginConfig } from "./config";
import { CREDENTIAL_HEADERS } from "./credentials";
import { JsonKind, parseJson } from "./json";

/** Request bodies larger than this are not retried (nor kept). */
export const MAX_RETRY_BODY: i32 = 1 << 20;

// Hop-by-hop headers, and content-length, which the host recomputes for the replayed body.
const NOT_REPLAYED = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length"];

/** The parts of a client request kept while it is in flight, so it can be replayed. */
export class CapturedRequest {
  private chunks: ArrayBuffer[] = [];
  private size: i32 = 0;
  tooLarge: bool = false;

  constructor(public headers: ArrayBuffer) {}

  /** Keeps one body chunk, or gives the body up once it passes MAX_RETRY_BODY. */
  addChunk(chunk: ArrayBuffer): void {
    if (this.tooLarge) return;
    this.size += chunk.byteLength;
    if (this.size > MAX_RETRY_BODY) {
      this.tooLarge = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(chunk);
  }

  /** The whole body kept so far. */
  body(): ArrayBuffer {
    if (this.chunks.length == 1) return this.chunks[0];
    const out = new ArrayBuffer(this.size);
    let at: usize = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i];
      memory.copy(changetype<usize>(out) + at, changetype<usize>(c), c.byteLength);
      at += c.byteLength;
    }
    this.chunks = [out];
    return out;
  }
}

/** Whether a request body asks for a streamed answer (`"stream": true` at the top level). */
export function asksForStream(body: ArrayBuffer): bool {
  if (body.byteLength == 0) return false;
  const doc = parseJson(String.UTF8.decode(body));
  if (doc == null) return false;
  const stream = doc.get("stream");
  return stream != null && stream.kind == JsonKind.Bool && stream.bool;
}

/** The client's headers for a replay: credentials and hop-by-hop headers replaced or dropped. */
export function replayHeaders(raw: ArrayBuffer, cfg: PluginConfig, token: string): HeaderList {
  const original = HeaderList.parse(raw);
  const out = new HeaderList();
  for (let i = 0; i < original.length; i++) {
    const name = original.names[i].toLowerCase();
    if (CREDENTIAL_HEADERS.includes(name) || NOT_REPLAYED.includes(name)) continue;
    out.add(original.names[i], original.values[i]);
  }
  out.add(cfg.credentialHeader, cfg.credentialPrefix + token);
  return out;
}

/** The provider's headers for the client: pseudo, hop-by-hop and length headers are the host's. */
export function answerHeaders(headers: HeaderList): HeaderList {
  const out = new HeaderList();
  for (let i = 0; i < headers.length; i++) {
    const name = headers.names[i].toLowerCase();
    if (name.startsWith(":") || NOT_REPLAYED.includes(name)) continue;
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
