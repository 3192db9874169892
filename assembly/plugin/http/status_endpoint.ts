// The plugin's own endpoint at `statusPath`: the dashboard page for a browser (no data, no token
// needed), the status document for a caller with `statusToken`.
import { MapType } from "../../abi/enums";
import { sendLocalResponse } from "../../runtime/calls";
import { HeaderList } from "../../util/header_list";
import { getHeader } from "../../runtime/headers";
import { randomU64 } from "../../runtime/host";
import { dashboardPage, dashboardPolicy, wantsPage } from "../view/dashboard";
import { Plugin } from "../plugin";
import { sameSecret } from "../view/status_page";

/** Answers a request for <statusPath> itself (it never reaches the provider). */
export function answerStatus(plugin: Plugin): void {
  const method = getHeader(MapType.RequestHeaders, ":method");
  if (method == "GET" && wantsPage(getHeader(MapType.RequestHeaders, "accept"))) {
    // From the host's random source: the key-choice generator's output could be predicted.
    const nonce = randomU64().toString(16) + randomU64().toString(16);
    const html = new HeaderList();
    html.add("content-type", "text/html; charset=utf-8");
    html.add("cache-control", "no-store");
    html.add("content-security-policy", dashboardPolicy(nonce));
    html.add("x-content-type-options", "nosniff");
    html.add("referrer-policy", "no-referrer");
    sendLocalResponse(200, "ai_token_failover_dashboard", String.UTF8.encode(dashboardPage(nonce)), html);
    return;
  }
  const json = new HeaderList();
  json.add("content-type", "application/json");
  json.add("cache-control", "no-store");
  const auth = getHeader(MapType.RequestHeaders, "authorization");
  if (auth == null || !sameSecret(auth, "Bearer " + plugin.config.statusToken)) {
    json.add("www-authenticate", "Bearer");
    sendLocalResponse(401, "ai_token_failover_status_unauthorized", String.UTF8.encode("{\"error\":\"unauthorized\"}\n"), json);
    return;
  }
  if (method != "GET") {
    json.add("allow", "GET");
    sendLocalResponse(405, "ai_token_failover_status_method", String.UTF8.encode("{\"error\":\"method not allowed\"}\n"), json);
    return;
  }
  sendLocalResponse(200, "ai_token_failover_status", String.UTF8.encode(plugin.statusDocument()), json);
}
