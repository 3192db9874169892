// Who sent a request, as far as evidence about the provider and the corroboration of a long rest
// need it: hashes of its body and of its affinity value. The body's is made only when a failure
// asks for it, never on a successful request.
import { hashBytes } from "../../util/fingerprint";

/** Where a request's body can still be read (null: not kept, or no longer). */
export abstract class BodySource {
  abstract bodyBytes(): ArrayBuffer | null;
}

export class RequestMark {
  private hash: u32 = 0;
  /** The kept body, while there is one. */
  source: BodySource | null = null;

  /** `who`: the affinity value's hash (0: none); `unique`: stands for the body when none is at hand. */
  /** `who`: set again when the consumer is named in the body, read after the mark was made. */
  constructor(public who: u32, private unique: u32) {}

  /** Takes the body's hash now, while the body is still kept. */
  pin(): void { this.body; }

  /** The body's hash (the request's own unique value when its body is not at hand); never 0. */
  get body(): u32 {
    if (this.hash != 0) return this.hash;
    const source = this.source;
    const bytes = source != null ? source.bodyBytes() : null;
    this.hash = bytes != null && bytes.byteLength > 0 ? hashBytes(bytes) : this.unique | 1;
    return this.hash;
  }
}
