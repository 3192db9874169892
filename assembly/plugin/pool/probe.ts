// Probe requests: where they go, what they carry (SPEC 5.2), and which out-of-pool token is probed
// next. Pure.
import { HeaderList } from "../../util/header_list";
import { PluginConfig } from "../config/config";
import { jsonString } from "../../util/json";
import { pathOnly } from "../../util/path";

/** Where probes go: the configured healthCheck values, else what the router sent for a successful chat request. */
export class ProbeTarget {
  /** Headers the route added (and other non-volatile request headers), sent with every probe. */
  headers: HeaderList = new HeaderList();
  constructor(public cluster: string, public authority: string, public path: string) {}

  /** One line each for cluster, authority and path, then `name:value` per header. */
  encode(): string {
    const lines: string[] = [this.cluster, this.authority, this.path];
    for (let i = 0; i < this.headers.length; i++) lines.push(this.headers.names[i] + ":" + this.headers.values[i]);
    return lines.join("\n");
  }

  static decode(s: string): ProbeTarget | null {
    const lines = s.split("\n");
    if (lines.length < 3 || lines[0].length == 0) return null;
    const t = new ProbeTarget(lines[0], lines[1], lines[2]);
    for (let i = 3; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      if (colon > 0) t.headers.add(lines[i].substring(0, colon), lines[i].substring(colon + 1));
    }
    return t;
  }
}

/** Bytes of route headers a probe target keeps at most (beyond, headers are left out). */
const MAX_TARGET_HEADER_BYTES = 4096;

// Headers Envoy itself adds per request (tracing, forwarding), or that the probe sets itself:
// never copied into probes even when the route's map shows them as added.
const PER_REQUEST = ["x-request-id", "x-real-ip", "traceparent", "tracestate", "b3", "x-ot-span-context",
  "x-cloud-trace-context", "cookie", "user-agent", "accept", "accept-encoding", "content-type"];
const PER_REQUEST_PREFIXES = ["x-forwarded-", "x-b3-", "x-datadog-"];

function perRequest(name: string): bool {
  if (PER_REQUEST.includes(name)) return true;
  for (let i = 0; i < PER_REQUEST_PREFIXES.length; i++) if (name.startsWith(PER_REQUEST_PREFIXES[i])) return true;
  return false;
}

/**
 * The probe target of a successful request: the cluster, and the Host and path (without query)
 * the router sent, with only the headers the route itself added or set. Nothing the client sent
 * is kept, so no client can aim a probe.
 */
export function targetFromRoute(cluster: string, authority: string, path: string, changed: HeaderList): ProbeTarget {
  const t = new ProbeTarget(cluster, authority, path);
  let bytes = 0;
  for (let i = 0; i < changed.length; i++) {
    const name = changed.names[i];
    if (perRequest(name)) continue;
    bytes += name.length + changed.values[i].length;
    if (bytes > MAX_TARGET_HEADER_BYTES) break;
    t.headers.add(name, changed.values[i]);
  }
  return t;
}

/** Whether a client path is one whose success shows where probes go: a chat or messages endpoint (the probe body fits both). */
export function aimsProbes(path: string): bool {
  const bare = pathOnly(path);
  return bare.endsWith("/chat/completions") || bare.endsWith("/messages");
}

/** The probe path until a request shows the route's: Anthropic's messages endpoint for its types, else chat completions. */
function defaultPath(cfg: PluginConfig): string {
  const t = cfg.providerType.toLowerCase();
  return t == "claude" || t == "anthropic" ? "/v1/messages" : "/v1/chat/completions";
}

/** Merges the configured healthCheck fields over the target seen in traffic; null if no cluster is known. */
export function resolveTarget(cfg: PluginConfig, seen: ProbeTarget | null): ProbeTarget | null {
  const hc = cfg.failover.healthCheck;
  const cluster = hc.cluster.length > 0 ? hc.cluster : seen != null ? seen.cluster : "";
  if (cluster.length == 0) return null;
  const authority = hc.authority.length > 0 ? hc.authority : seen != null && seen.authority.length > 0 ? seen.authority : cluster;
  const path = hc.path.length > 0 ? hc.path : seen != null && seen.path.length > 0 ? seen.path : defaultPath(cfg);
  const t = new ProbeTarget(cluster, authority, path);
  if (seen != null) {
    for (let i = 0; i < seen.headers.length; i++) {
      if (!hc.headerNames.includes(seen.headers.names[i])) t.headers.add(seen.headers.names[i], seen.headers.values[i]);
    }
  }
  for (let i = 0; i < hc.headerNames.length; i++) t.headers.add(hc.headerNames[i], hc.headerValues[i]);
  return t;
}

/** Body of a probe: the configured one, else a one-token chat completion with healthCheckModel. */
export function probeBody(cfg: PluginConfig): string {
  const hc = cfg.failover.healthCheck;
  if (hc.body.length > 0) return hc.body;
  return "{\"model\":" + jsonString(cfg.failover.healthCheckModel) +
    ",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],\"max_tokens\":1}";
}

/** Headers of a probe carrying `token` the way the provider type needs. */
/** The header that marks the plugin's probes to its upstream-filter instances (value: a secret of the process). */
export const PROBE_MARK_HEADER = "x-ai-token-failover-probe";

export function probeHeaders(cfg: PluginConfig, target: ProbeTarget, token: string): HeaderList {
  const h = new HeaderList();
  h.add(":method", "POST");
  h.add(":path", target.path);
  h.add(":authority", target.authority);
  h.add("content-type", "application/json");
  h.add("accept-encoding", "identity");
  h.add("user-agent", "ai-token-failover-probe");
  for (let i = 0; i < target.headers.length; i++) h.add(target.headers.names[i], target.headers.values[i]);
  h.add(cfg.credentialHeader, cfg.credentialPrefix + token);
  return h;
}

/**
 * Chooses which out-of-pool tokens to probe on a tick: a cursor resumes after the last token
 * probed, so a cap on probes in flight never starves the tokens at the end of the list.
 */
export class ProbeScheduler {
  private cursor: i32 = 0;

  /**
   * Up to `slots` indices among `n` tokens for which `due[i]` is true, in round-robin order from
   * the cursor; the cursor moves past the last one chosen.
   */
  next(due: bool[], slots: i32): i32[] {
    const n = due.length;
    const out: i32[] = [];
    if (n == 0) return out;
    if (this.cursor >= n) this.cursor = 0;
    for (let k = 0; k < n && out.length < slots; k++) {
      const i = (this.cursor + k) % n;
      if (!due[i]) continue;
      out.push(i);
    }
    if (out.length > 0) this.cursor = (out[out.length - 1] + 1) % n;
    return out;
  }
}
