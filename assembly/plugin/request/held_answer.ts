// The provider's failed answer, held back while a retry runs, and how a retry's answer takes its
// place. Replacing it in place (status, headers and the buffered body) lets the answer go back
// through the filters before this one, as the provider's own would (ai-proxy translates it,
// statistics filters count it); a local reply would skip them, so it is only the fallback.
import { BufferType, MapType } from "../../abi/enums";
import { replaceBufferBytes } from "../../runtime/buffers";
import { sendLocalResponse } from "../../runtime/calls";
import { HeaderList } from "../../util/header_list";
import { setHeaderPairs } from "../../runtime/headers";
import { answerHeaders } from "./replay";

/** How much of the held answer's body Envoy has buffered for this filter. */
export enum HeldBody {
  /** No body callback yet: the body may not have arrived, or Envoy holds it back from the filter. */
  NotYet,
  /** Part of the body is buffered; more is coming. */
  Arriving,
  /** The whole body is buffered. */
  Complete,
  /** The answer ended with its headers: there is no body to replace. */
  Absent,
}

/** A provider answer to a retry that the client will receive unless a later attempt does better. */
export class Delivery {
  /** `key`: the key whose answer it is. */
  constructor(public status: i32, public headers: HeaderList, public body: ArrayBuffer, public key: i32) {}
}

/**
 * Puts `answer` in place of the held answer whose buffered body is `size` bytes: body first, then
 * status and headers (the provider's, without hop-by-hop ones, with the new length). False when
 * the host refuses either; the caller then replies locally, which replaces both anyway.
 */
export function replaceHeld(answer: Delivery, size: usize): bool {
  if (!replaceBufferBytes(BufferType.ResponseBody, size, answer.body)) return false;
  const headers = new HeaderList();
  headers.add(":status", answer.status.toString());
  const kept = answerHeaders(answer.headers);
  for (let i = 0; i < kept.length; i++) headers.add(kept.names[i], kept.values[i]);
  headers.add("content-length", answer.body.byteLength.toString());
  return setHeaderPairs(MapType.ResponseHeaders, headers);
}

/** Answers with `answer` as this plugin's own reply; false when the host refuses. */
export function replyWith(answer: Delivery): bool {
  return sendLocalResponse(<u32>answer.status, "ai_token_failover_retry", answer.body, answerHeaders(answer.headers));
}
