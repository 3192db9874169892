// Where an answer came from, for the verdict: the provider, or Envoy itself (a reset, a timeout, a
// later filter's reply), which is nobody's fault.
import { getProperty } from "../../runtime/host";
import { AnswerOrigin } from "./verdict";

/** The route's answer: from the provider unless Envoy made it (`response.code_details`). */
class StreamOrigin extends AnswerOrigin {
  fromProvider(): bool {
    const details = getProperty("response.code_details");
    return details == null || details == "via_upstream";
  }
}

/** A retry answer: Envoy's own replies to a call are recognised (isHostReply) before it is judged. */
class CallOrigin extends AnswerOrigin {
  fromProvider(): bool { return true; }
}

export const STREAM_ORIGIN: AnswerOrigin = new StreamOrigin();
export const CALL_ORIGIN: AnswerOrigin = new CallOrigin();
