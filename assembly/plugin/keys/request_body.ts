// What the key choice reads from a request body: its model and how many tokens it may use. Pure:
// one linear pass each over the bytes.
import { parseJson } from "../../util/json";
import { ScanKind, findTopLevel, topLevelInteger } from "../../util/json_scan";

const MODEL_KEY = String.UTF8.encode("model");
const MAX_TOKENS_KEY = String.UTF8.encode("max_tokens");
const MAX_COMPLETION_TOKENS_KEY = String.UTF8.encode("max_completion_tokens");

/** Tokens a prompt is expected to use: a quarter of the body's bytes (about what an OpenAI tokenizer gives for English and code). */
export function promptTokens(body: ArrayBuffer): i64 {
  return (<i64>body.byteLength + 3) / 4;
}

/** The completion a request asks for (`max_completion_tokens`, else `max_tokens`; 0 when absent). */
export function completionTokens(body: ArrayBuffer): i64 {
  let completion = topLevelInteger(body, MAX_COMPLETION_TOKENS_KEY);
  if (completion < 0) completion = topLevelInteger(body, MAX_TOKENS_KEY);
  return completion > 0 ? completion : 0;
}

/** The top-level `model` of a JSON request body, or null (escapes decoded). */
export function modelOf(body: ArrayBuffer): string | null {
  const r = findTopLevel(body, body.byteLength, MODEL_KEY);
  if (r.kind != ScanKind.String) return null;
  const raw = String.UTF8.decodeUnsafe(changetype<usize>(body) + <usize>r.start, <usize>(r.end - r.start), false);
  if (!raw.includes("\\")) return raw;
  const parsed = parseJson("\"" + raw + "\"");
  return parsed != null ? parsed.str : null;
}
