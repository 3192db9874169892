// Probe requests: where they go and what they carry (SPEC 5.2). Pure.
import { HeaderList } from "../runtime/headers";
import { PluginConfig } from "./config";
import { jsonString } from "./json";

/** Where probes go: the configured healthCheck values, else what the last counted failure used. */
export class ProbeTarget {
  constructor(public cluster: string, public authority: string, public path: string) {}

  encode(): string { return this.cluster + "\n" + this.authority + "\n" + this.path; }

  static decode(s: string): ProbeTarget | null {
    const a = s.indexOf("\n");
    const b = a < 0 ? -1 : s.indexOf("\n", a + 1);
    if (a <= 0 || b < 0) return null;
    return new ProbeTarget(s.substring(0, a), s.substring(a + 1, b), s.substring(b + 1));
  }
}

const DEFAULT_PATH = "/v1/chat/completions";

/** Merges the configured healthCheck fields over the target seen in traffic; null if no cluster is known. */
export function resolveTarget(cfg: PluginConfig, seen: ProbeTarget | null): ProbeTarget | null {
  const hc = cfg.failover.healthCheck;
  const cluster = hc.cluster.length > 0 ? hc.cluster : seen != null ? seen.cluster : "";
  if (cluster.length == 0) return null;
  const authority = hc.authority.length > 0 ? hc.authority : seen != null && seen.authority.length > 0 ? seen.authority : cluster;
  const path = hc.path.length > 0 ? hc.path : seen != null && seen.path.length > 0 ? seen.path : DEFAULT_PATH;
  return new ProbeTarget(cluster, authority, path);
}

/** Body of a probe: the configured one, else a one-token chat completion with healthCheckModel. */
export function probeBody(cfg: PluginConfig): string {
  const hc = cfg.failover.healthCheck;
  if (hc.body.length > 0) return hc.body;
  return "{\"model\":" + jsonString(cfg.failover.healthCheckModel) +
    ",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}],\"max_tokens\":1}";
}

/** Headers of a probe carrying `token` the way the provider type needs. */
export function probeHeaders(cfg: PluginConfig, target: ProbeTarget, token: string): HeaderList {
  const h = new HeaderList();
  h.add(":method", "POST");
  h.add(":path", target.path);
  h.add(":authority", target.authority);
  h.add("content-type", "application/json");
  h.add("user-agent", "ai-token-failover-probe");
  h.add(cfg.credentialHeader, cfg.credentialPrefix + token);
  return h;
}
