// Reads where the plugin runs and how it keeps consumers on keys: `upstreamFilter` (an upstream
// HTTP filter of the cluster: Envoy's retry_policy retries, each attempt gets a key), `statusOnly`
// (a downstream instance that only answers the status path), `affinity.header`. Pure.
import { PluginConfig } from "./config";
import { Validator, isHeaderName } from "./config_validator";
import { JsonValue } from "../../util/json";
import { field } from "./schema";

export function parsePlacement(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  cfg.upstreamFilter = val.flag(root, "", field("", "upstreamFilter"));
  cfg.statusOnly = val.flag(root, "", field("", "statusOnly"));
  const affinity = val.object(root.get("affinity"), "affinity");
  if (affinity != null) {
    val.known(affinity, "affinity.", "affinity");
    const header = val.text(affinity, "affinity.", field("affinity", "header"));
    if (val.ok() && !isHeaderName(header)) val.fail("affinity.header", "must be a header name (the consumer's identity, such as x-user-id)");
    cfg.affinityHeader = header.toLowerCase();
  }
  if (!val.ok()) return;
  if (cfg.upstreamFilter && cfg.statusOnly) {
    val.fail("statusOnly", "cannot be set with upstreamFilter: the status instance runs downstream, beside the upstream one");
  } else if (cfg.upstreamFilter && cfg.retry.enabled) {
    val.fail(val.base + ".retryOnFailure.enabled", "must be false with upstreamFilter: use the route's retry_policy, which gives every attempt its own key");
  } else if (cfg.upstreamFilter && cfg.queue.enabled) {
    val.fail("queue.enabled", "must be false with upstreamFilter: requests wait in the queue before the router, so run it downstream");
  } else if (cfg.upstreamFilter && cfg.statusPath.length > 0) {
    val.fail("statusPath", "cannot be answered by an upstream filter: put it on a downstream instance with statusOnly and the same vm_id (see envoy/envoy.upstream.yaml)");
  } else if (cfg.upstreamFilter && cfg.failover.enabled && cfg.failover.cooldownDuration == 0 && !hasProbeTarget(cfg)) {
    val.fail(val.base + ".failover.healthCheck", "needs cluster, authority and path with upstreamFilter: probes go to the cluster directly, without the route's rewrites");
  } else if (cfg.statusOnly && cfg.statusPath.length == 0) {
    val.fail("statusPath", "is required with statusOnly");
  }
}

function hasProbeTarget(cfg: PluginConfig): bool {
  const hc = cfg.failover.healthCheck;
  return hc.cluster.length > 0 && hc.authority.length > 0 && hc.path.length > 0;
}
