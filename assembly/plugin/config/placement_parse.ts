// Reads where the plugin runs and how it keeps consumers on keys: `upstreamFilter` (an upstream
// HTTP filter of the cluster: Envoy's retry_policy retries, each attempt gets a key), `statusOnly`
// (a downstream instance that only answers the status path), `affinity.header` and `affinity.bodyField`. Pure.
import { PluginConfig } from "./config";
import { Validator, isHeaderName } from "./config_validator";
import { JsonValue } from "../../util/json";
import { field } from "./schema";

/** Objects deep a body field may be (each level is read in one pass over its object). */
const MAX_BODY_FIELD_DEPTH = 4;
/** The longest member name read (longer keys are skipped unread, util/json_members). */
const MAX_BODY_FIELD_NAME = 64;

export function parsePlacement(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  cfg.upstreamFilter = val.flag(root, "", field("", "upstreamFilter"));
  cfg.statusOnly = val.flag(root, "", field("", "statusOnly"));
  const affinity = val.object(root.get("affinity"), "affinity");
  if (affinity != null) {
    val.known(affinity, "affinity.", "affinity");
    const header = val.text(affinity, "affinity.", field("affinity", "header"));
    if (val.ok() && header.length > 0 && !isHeaderName(header)) val.fail("affinity.header", "must be a header name (the consumer's identity, such as x-user-id)");
    cfg.affinityHeader = header.toLowerCase();
    const path = val.text(affinity, "affinity.", field("affinity", "bodyField"));
    if (val.ok() && path.length > 0) {
      const names = path.split(".");
      if (names.length > MAX_BODY_FIELD_DEPTH || !names.every((n: string) => n.length > 0 && n.length <= MAX_BODY_FIELD_NAME)) {
        val.fail("affinity.bodyField", "must be a dotted path of at most " + MAX_BODY_FIELD_DEPTH.toString() + " member names of 1 to " +
          MAX_BODY_FIELD_NAME.toString() + " characters, such as user or metadata.user_id");
      }
      cfg.affinityBodyField = names;
    }
    if (val.ok() && header.length == 0 && path.length == 0) val.fail("affinity", "needs header or bodyField: where the consumer's identity is");
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
