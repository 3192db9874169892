// One upstream attempt of a request: the key it carried, the answer's status and headers, and the
// verdict on that answer once it is known. A verdict can only reach the attempt that produced it.
import { ByteBuffer } from "../../util/byte_buffer";
import { HeaderList } from "../../util/header_list";
import { is2xx } from "../../util/status";
import { Failover } from "../pool/failover";
import { AnswerOrigin, Verdict, VerdictKind, judgeBody, judgeHead, statusVerdict } from "../judge/verdict";
import { KeySelector } from "../keys/key_selector";
import { RequestMark } from "../judge/request_mark";
import { ProviderHealth } from "../pool/provider_health";

/** Bytes of a body kept to test failureConditions with a body (the rules read this prefix). */
export const BODY_RULE_LIMIT: i32 = 65536;

/** Whether a `content-encoding` value means the bytes are compressed (so rules cannot read them). */
export function isEncoded(contentEncoding: string | null): bool {
  return contentEncoding != null && contentEncoding.length > 0 && contentEncoding.toLowerCase() != "identity";
}

/** Whether a `content-type` value is a server-sent event stream (judged on status and headers only). */
export function isEventStream(contentType: string | null): bool {
  return contentType != null && contentType.includes("text/event-stream");
}

/** Where an attempt's verdict stands. */
export const enum AttemptState {
  /** Sent; no answer judged yet. */
  Sent = 0,
  /** Its head is judged; a failure rule reading the body decides. */
  AwaitingBody = 1,
  /** A success of its key. */
  Succeeded = 2,
  /** A failure held while the request's other attempts run: they tell whose it is (settleAttempts). */
  Held = 3,
  /** A failure counted against its key. */
  Counted = 4,
  /** A failure found not to be its key's (the request's or the provider's). */
  Excused = 5,
  /** Nothing to count: Envoy's own answer, a guess's failure, a refusal reporting room left, a body that cannot be read. */
  Unjudged = 6,
}

export class Attempt {
  state: AttemptState = AttemptState.Sent;
  status: i32 = 0;
  /** Tokens taken from the key's token budget for this attempt before its answer (0: none). */
  reserved: i64 = 0;
  /** The answer's usage has corrected the reservation. */
  private usageSettled: bool = false;
  /** Headers of the answer, kept while a body verdict is pending (null when no rule tests headers). */
  private headers: HeaderList | null = null;
  /** Status of a failure verdict not decided by a rule, counted or not (0: none). */
  failedWith: i32 = 0;
  /** The failure rule a failure verdict matched (-1: none): such an answer is retried like a failing status. */
  failRule: i32 = -1;
  /** What a failure of this attempt says about the provider (ProviderHealth; Ok: nothing). */
  providerKind: ProviderHealth = ProviderHealth.Ok;
  /**
   * Hold a failure verdict instead of counting it: the request is being retried, and the other
   * attempts decide whether the failure is the key's (see settleAttempts).
   */
  defer: bool = false;
  /**
   * Sent with a guessed route shape (none learned yet): a failure of such an attempt is not the
   * key's fault for sure, so it is not counted.
   */
  unconfirmed: bool = false;
  /**
   * A 429 whose rate-limit headers report room left (OpenAI's "Request too large"): it is the
   * request's, so nothing is counted, rested or taken as evidence about the provider.
   */
  roomLeft: bool = false;
  /** The failure verdict held (state Held). */
  private held: Verdict | null = null;
  private retryAfter: string | null = null;
  private encoded: bool = false;
  /** The body prefix kept for a rule (made when a rule first needs it: most attempts never do). */
  private body: ByteBuffer | null = null;

  /** `mark`: who sent the request (shared by its attempts). */
  constructor(public key: i32, public mark: RequestMark) {}

  /** Whether a body rule must still decide. */
  get pending(): bool { return this.state == AttemptState.AwaitingBody; }

  /** Whether the answer was judged a success of its key. */
  get succeeded(): bool { return this.state == AttemptState.Succeeded; }

  /** Whether a failure rule (failureConditions) judged the answer a failure. */
  get failedByRule(): bool { return this.failRule >= 0; }

  private get bodyUsed(): i32 {
    const b = this.body;
    return b != null ? b.used : 0;
  }

  /** Corrects this attempt's token reservation with the answer's usage (`total`, -1: not said), once. */
  settleUsage(selector: KeySelector, total: i64): void {
    if (this.usageSettled) return;
    this.usageSettled = true;
    selector.settleUsage(this.key, this.reserved, this.status, total);
  }

  /** Judges status and headers; a verdict that needs the body stays pending until finishBody. */
  judge(failover: Failover, status: i32, headers: HeaderList | null, retryAfter: string | null, origin: AnswerOrigin,
        now: i64, bodyFollows: bool, contentEncoding: string | null): void {
    this.status = status;
    if (status == 429 && this.roomLeft) {
      this.state = AttemptState.Unjudged;
      return;
    }
    const v = judgeHead(failover.cfg.failover, status, headers, retryAfter, origin, now);
    if (v.kind == VerdictKind.NeedsBody && bodyFollows) {
      this.state = AttemptState.AwaitingBody;
      this.headers = headers;
      this.retryAfter = retryAfter;
      this.encoded = isEncoded(contentEncoding);
      return;
    }
    // No body will follow (or it is a stream, judged on its head): a body rule cannot match.
    this.settle(failover, v.kind == VerdictKind.NeedsBody ? statusVerdict(failover.cfg.failover, status, retryAfter, now) : v, origin);
  }

  /** Whether more body bytes are wanted for the pending verdict. */
  get wantsBody(): bool { return this.pending && this.bodyUsed < BODY_RULE_LIMIT; }

  /** Room left in the kept prefix. */
  get room(): i32 { return BODY_RULE_LIMIT - this.bodyUsed; }

  /** Keeps body bytes (at most BODY_RULE_LIMIT in all). */
  addBody(chunk: ArrayBuffer): void {
    let b = this.body;
    if (b == null) {
      b = new ByteBuffer();
      this.body = b;
    }
    b.append(chunk, chunk.byteLength, BODY_RULE_LIMIT);
  }

  /**
   * Settles a pending verdict on the body kept. `ended` is true when the whole body (or the whole
   * prefix the rules read) was seen; a match in a partial body still counts.
   */
  finishBody(failover: Failover, origin: AnswerOrigin, now: i64, ended: bool): void {
    if (!this.pending) return;
    const b = this.body;
    const raw = b != null ? b.raw : null;
    const used = this.bodyUsed;
    const complete = ended || used >= BODY_RULE_LIMIT;
    const v = judgeBody(failover.cfg.failover, this.status, this.headers, this.retryAfter, raw != null ? raw : new ArrayBuffer(0), used, complete, this.encoded, now);
    this.body = null;
    this.headers = null;
    this.settle(failover, v, origin);
  }

  /**
   * Judges an answer whose whole body (or its rule prefix) is at hand: a retry answer. A stream's
   * text is the model's output, so it is judged on status and headers, as the route's stream is.
   */
  judgeWhole(failover: Failover, status: i32, headers: HeaderList, body: ArrayBuffer, origin: AnswerOrigin, now: i64): void {
    const bodyRead = !isEventStream(headers.get("content-type"));
    this.judge(failover, status, headers, headers.get("retry-after"), origin, now, bodyRead, headers.get("content-encoding"));
    if (!this.pending) return;
    this.addBody(body);
    this.finishBody(failover, origin, now, true);
  }

  private settle(failover: Failover, v: Verdict, origin: AnswerOrigin): void {
    this.state = AttemptState.Unjudged;
    if (this.unconfirmed && !is2xx(this.status)) return;
    if (v.kind == VerdictKind.Success) {
      this.state = AttemptState.Succeeded;
      failover.countSuccess(this.key, origin, this.status);
    } else if (v.kind == VerdictKind.Failure) {
      this.failRule = v.rule;
      this.providerKind = providerKindOf(v, this.status);
      const by = v.retryAfterAt > 0 ? this.mark.body : 0;
      // The operator's rule says this answer is the key's: it counts whatever other keys answer.
      // A 2xx body, though, is the model's output, which a client can steer into the rule's text:
      // on a retried request the other keys' answers decide then, as for a failing status.
      if (v.byRule && !(this.defer && is2xx(this.status))) {
        this.state = AttemptState.Counted;
        failover.countFailure(this.key, this.status, v.retryAfterAt, v.rule, by);
        return;
      }
      this.failedWith = this.status;
      if (this.defer) {
        this.state = AttemptState.Held;
        this.held = v;
        return;
      }
      this.state = AttemptState.Counted;
      failover.countFailureOfKey(this.key, this.status, v.retryAfterAt, -1, by);
    }
  }

  /**
   * Settles a held failure: `counts` false excuses it (another key failed the same request the
   * same way: the request or the provider is at fault), `proven` true counts it whatever its
   * status (another key served the same request). An attempt holding nothing just stops holding.
   */
  release(failover: Failover, counts: bool, proven: bool): void {
    this.defer = false;
    const v = this.held;
    this.held = null;
    if (v == null || this.state != AttemptState.Held) return;
    if (!counts) {
      this.state = AttemptState.Excused;
      failover.metrics.failureNotCounted();
      return;
    }
    this.state = AttemptState.Counted;
    const by = v.retryAfterAt > 0 ? this.mark.body : 0;
    if (proven) failover.countFailure(this.key, this.status, v.retryAfterAt, v.rule, by);
    else failover.countFailureOfKey(this.key, this.status, v.retryAfterAt, v.rule, by);
  }
}

/**
 * What a failure verdict on an answer with `status` says about the provider: a failure rule on a
 * non-2xx answer (a client cannot steer a provider's error body) or a 5xx that it fails, a 429
 * that it limits; anything else (401, 403, a 2xx body) nothing.
 */
function providerKindOf(v: Verdict, status: i32): ProviderHealth {
  if (v.byRule) return is2xx(status) ? ProviderHealth.Ok : ProviderHealth.Failing;
  if (status == 429) return ProviderHealth.Limited;
  return status >= 500 && status < 600 ? ProviderHealth.Failing : ProviderHealth.Ok;
}
