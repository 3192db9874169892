// The plugin's own answers to a client, OpenAI-style: no key serves the model, every key that
// does is rate-limited, or Envoy hides the body the key choice needs.
import { sendLocalResponse } from "../../runtime/calls";
import { HeaderList } from "../../util/header_list";
import { nowMs } from "../../runtime/host";
import { jsonString } from "../../util/json";

export function jsonHeaders(): HeaderList {
  const h = new HeaderList();
  h.add("content-type", "application/json");
  return h;
}

/** 400: no configured key serves `model` (or the body names none while keys have model lists). */
export function answerNoKey(model: string | null): void {
  const message = model != null ? "no configured key serves the model " + jsonString(model)
    : "this gateway needs a \"model\" in the request body to choose a key";
  const body = "{\"error\":{\"message\":" + jsonString(message) +
    ",\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}\n";
  sendLocalResponse(400, "ai_token_failover_no_key_for_model", String.UTF8.encode(body), jsonHeaders());
}

/** 400: the body names its model in another case too ("MODEL"), which providers' JSON parsers read differently. */
export function answerAmbiguousModel(): void {
  const body = "{\"error\":{\"message\":\"the request body names \\\"model\\\" in another case too, which JSON parsers read " +
    "differently: send it once, as \\\"model\\\"\",\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"ambiguous_model\"}}\n";
  sendLocalResponse(400, "ai_token_failover_ambiguous_model", String.UTF8.encode(body), jsonHeaders());
}

/** 429 with Retry-After: every key that serves the request has reached its rate limit until `until`. */
export function answerNoBudget(until: i64): void {
  const seconds = retryAfterSeconds(until);
  const headers = jsonHeaders();
  headers.add("retry-after", seconds.toString());
  const body = "{\"error\":{\"message\":\"every key that serves this request has reached its rate limit; retry after " +
    seconds.toString() + " s\",\"type\":\"rate_limit_exceeded\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n";
  sendLocalResponse(429, "ai_token_failover_no_budget", String.UTF8.encode(body), headers);
}

/**
 * The provider is limited (429) or failing (503) on every key and paced: the plugin answers in its
 * place, with a Retry-After up to `until`, the next time a request goes to it.
 */
export function answerProviderDown(failing: bool, until: i64): void {
  const seconds = retryAfterSeconds(until);
  const headers = jsonHeaders();
  headers.add("retry-after", seconds.toString());
  const message = failing ? "the provider is failing for every key of this gateway" : "the provider is rate limiting every key of this gateway";
  const body = "{\"error\":{\"message\":\"" + message + "; retry after " + seconds.toString() + " s\",\"type\":" +
    (failing ? "\"server_error\",\"param\":null,\"code\":\"provider_unavailable\"" : "\"rate_limit_exceeded\",\"param\":null,\"code\":\"rate_limit_exceeded\"") + "}}\n";
  sendLocalResponse(failing ? 503 : 429, failing ? "ai_token_failover_provider_failing" : "ai_token_failover_provider_limited",
    String.UTF8.encode(body), headers);
}

function retryAfterSeconds(until: i64): i32 {
  const wait = until - nowMs();
  return wait <= 0 ? 1 : <i32>((wait + 999) / 1000);
}

/** 500 naming the fix: every key has a model list and Envoy does not show this filter the body. */
export function answerBodyHidden(): void {
  const body = "{\"error\":{\"message\":\"the gateway cannot read the request's model: its Wasm filter needs " +
    "allow_on_headers_stop_iteration: true\",\"type\":\"server_error\",\"param\":null,\"code\":\"gateway_misconfigured\"}}\n";
  sendLocalResponse(500, "ai_token_failover_body_hidden", String.UTF8.encode(body), jsonHeaders());
}
