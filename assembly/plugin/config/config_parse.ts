// Parses and validates the plugin configuration text: refused with one message that names the
// field, unknown fields warned about. Pure: no host calls, so it is unit-tested directly.
import { ConfigResult, DEFAULT_MAX_HELD_BYTES, FailoverConfig, KNOWN_PROVIDER_TYPES, PluginConfig, RetryConfig } from "./config";
import { Validator, isHeaderName, isPrintable } from "./config_validator";
import { PRIORITIES, QueueConfig, WhenExpired, WhenFull } from "./queue_config";
import { parseRedis } from "./redis_parse";
import { parsePlacement } from "./placement_parse";
import { JsonKind, JsonValue, readJson } from "../../util/json";

const DEFAULT_FAILOVER_ON_STATUS = ["401", "403", "429", "5.."];
// The same key faults that failover counts, so with defaults a client never sees a dead key.
const DEFAULT_RETRY_ON_STATUS = ["401", "403", "429", "5.."];
const MAX_MS: f64 = 86_400_000; // one day: a bound that still fits every timer argument
const MAX_COUNT: f64 = 1_000_000;

function parseFailover(val: Validator, obj: JsonValue | null, f: FailoverConfig): void {
  if (obj != null) {
    const p = val.base + ".failover.";
    val.warnUnknown(obj, p, ["enabled", "failureThreshold", "successThreshold", "healthCheckInterval",
      "healthCheckTimeout", "healthCheckModel", "cooldownDuration", "maxEjectionPercent", "failoverOnStatus", "failureConditions", "healthCheck"]);
    f.enabled = val.bool(obj, "enabled", p + "enabled", false);
    f.failureThreshold = val.integer(obj, "failureThreshold", p + "failureThreshold", 3, 1, MAX_COUNT);
    f.successThreshold = val.integer(obj, "successThreshold", p + "successThreshold", 1, 1, MAX_COUNT);
    f.healthCheckInterval = val.integer(obj, "healthCheckInterval", p + "healthCheckInterval", 5000, 1, MAX_MS);
    f.healthCheckTimeout = val.integer(obj, "healthCheckTimeout", p + "healthCheckTimeout", 5000, 1, MAX_MS);
    f.healthCheckModel = val.string(obj, "healthCheckModel", p + "healthCheckModel", "");
    f.cooldownDuration = val.integer(obj, "cooldownDuration", p + "cooldownDuration", 0, 0, MAX_MS);
    f.maxEjectionPercent = val.integer(obj, "maxEjectionPercent", p + "maxEjectionPercent", 50, 0, 100);
    f.failureConditions = val.rules(obj, "failureConditions", p + "failureConditions");
    const hc = val.object(obj.get("healthCheck"), p + "healthCheck");
    if (hc != null) {
      const q = p + "healthCheck.";
      val.warnUnknown(hc, q, ["cluster", "authority", "path", "body", "successConditions"]);
      f.healthCheck.cluster = val.string(hc, "cluster", q + "cluster", "");
      f.healthCheck.authority = val.string(hc, "authority", q + "authority", "");
      f.healthCheck.path = val.string(hc, "path", q + "path", "");
      f.healthCheck.body = val.string(hc, "body", q + "body", "");
      f.healthCheck.successConditions = val.rules(hc, "successConditions", q + "successConditions");
      if (f.healthCheck.path.length > 0 && f.healthCheck.path.charAt(0) != "/") val.fail(q + "path", "must start with '/'");
      if (f.healthCheck.body.length > 0 && val.ok()) {
        const parsed = readJson(f.healthCheck.body);
        if (parsed.value == null) val.fail(q + "body", "is not valid JSON (it is sent as the probe's JSON body): " + parsed.error);
      }
    }
  }
  f.failoverOnStatus = val.statusSet(obj, "failoverOnStatus", val.base + ".failover.failoverOnStatus", DEFAULT_FAILOVER_ON_STATUS);
  if (f.enabled && val.ok() && f.healthCheckModel.length == 0 && f.cooldownDuration == 0 && f.healthCheck.body.length == 0) {
    val.fail(val.base + ".failover.healthCheckModel", "is required when failover is enabled (or set cooldownDuration > 0, or healthCheck.body)");
  }
}

function parseRetry(val: Validator, obj: JsonValue | null, r: RetryConfig): void {
  if (obj != null) {
    const p = val.base + ".retryOnFailure.";
    val.warnUnknown(obj, p, ["enabled", "maxRetries", "retryTimeout", "retryOnStatus", "retryOnFailureConditions", "maxHeldBytes"]);
    r.enabled = val.bool(obj, "enabled", p + "enabled", false);
    r.maxRetries = val.integer(obj, "maxRetries", p + "maxRetries", 1, 0, 100);
    r.retryTimeout = val.integer(obj, "retryTimeout", p + "retryTimeout", 30000, 1, MAX_MS);
    r.retryOnFailureConditions = val.bool(obj, "retryOnFailureConditions", p + "retryOnFailureConditions", true);
    r.maxHeldBytes = val.integer(obj, "maxHeldBytes", p + "maxHeldBytes", DEFAULT_MAX_HELD_BYTES, 0, 1_073_741_824);
  }
  r.retryOnStatus = val.statusSet(obj, "retryOnStatus", val.base + ".retryOnFailure.retryOnStatus", DEFAULT_RETRY_ON_STATUS);
}

// Names a client may send (header-name characters only), lower-cased.
function headerNames(val: Validator, root: JsonValue, key: string): string[] {
  const out: string[] = [];
  const v = root.get(key);
  if (v == null) return out;
  if (v.kind != JsonKind.Array) { val.fail(key, "must be an array of header names"); return out; }
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    if (item.kind != JsonKind.String || !isHeaderName(item.str)) { val.fail(key + "[" + i.toString() + "]", "must be a header name"); return out; }
    out.push(item.str.toLowerCase());
  }
  return out;
}


function parsePaths(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  const v = root.get("paths");
  if (v == null) return;
  if (v.kind != JsonKind.Array || v.items.length == 0) { val.fail("paths", "must be a non-empty array of path patterns"); return; }
  const out: string[] = [];
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    const ok = item.kind == JsonKind.String && item.str.length > 0 && item.str.length <= 256 &&
      (item.str.charAt(0) == "/" || item.str.charAt(0) == "*") && !item.str.includes("?");
    if (!ok) { val.fail("paths[" + i.toString() + "]", "must be a path pattern starting with '/' or '*' (no '?'; * matches any run of characters)"); return; }
    out.push(item.str);
  }
  cfg.paths = out;
}

function parseStatusEndpoint(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  cfg.statusPath = val.string(root, "statusPath", "statusPath", "");
  cfg.statusToken = val.string(root, "statusToken", "statusToken", "");
  if (!val.ok()) return;
  if (cfg.statusPath.length > 0 && cfg.statusPath.charAt(0) != "/") val.fail("statusPath", "must start with '/'");
  else if (cfg.statusPath.includes("?")) val.fail("statusPath", "must not contain '?' (the path is matched without its query)");
  else if (cfg.statusPath.length > 0 && cfg.servesPath(cfg.statusPath)) val.fail("statusPath", "must not match paths (it would answer the API requests)");
  else if (cfg.statusToken.length > 0 && !isPrintable(cfg.statusToken)) val.fail("statusToken", "must not contain spaces or control characters");
  else if (cfg.statusPath.length > 0 && cfg.statusToken.length == 0) val.fail("statusToken", "is required with statusPath");
  else if (cfg.statusPath.length == 0 && cfg.statusToken.length > 0) val.fail("statusPath", "is required with statusToken");
}

function parseServedKey(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  const header = val.string(root, "servedKeyHeader", "servedKeyHeader", "");
  if (val.ok() && header.length > 0 && !isHeaderName(header)) val.fail("servedKeyHeader", "must be a header name");
  cfg.servedKeyHeader = header.toLowerCase();
  cfg.servedKeyFilterState = val.bool(root, "servedKeyFilterState", "servedKeyFilterState", false);
}

// Higress ai-proxy's newer shape: `providers: [...]` and `activeProviderId` naming one of them by
// its `id`; the active block is read as `provider` would be. A `provider` block wins when both
// are given, as in ai-proxy.
function activeProvider(val: Validator, root: JsonValue): JsonValue | null {
  if (root.get("provider") != null) return val.object(root.get("provider"), "provider");
  const list = root.get("providers");
  if (list == null) return null;
  if (list.kind != JsonKind.Array || list.items.length == 0) { val.fail("providers", "must be a non-empty array of provider objects"); return null; }
  const active = root.get("activeProviderId");
  if (active == null || active.kind != JsonKind.String || active.str.length == 0) {
    val.fail("activeProviderId", "is required with providers (the id of the provider to use)");
    return null;
  }
  for (let i = 0; i < list.items.length; i++) {
    const p = list.items[i];
    if (p.kind != JsonKind.Object) { val.fail("providers[" + i.toString() + "]", "must be an object"); return null; }
    const id = p.get("id");
    if (id != null && id.kind == JsonKind.String && id.str == active.str) {
      val.base = "providers[" + i.toString() + "]";
      return p;
    }
  }
  val.fail("activeProviderId", "names no entry of providers (no provider has that id)");
  return null;
}

/** Parses and validates the plugin configuration text. */
export function parseConfig(text: string): ConfigResult {
  const result = new ConfigResult();
  const val = new Validator();
  const doc = readJson(text.trim());
  const root = doc.value;
  if (root == null) { result.error = "configuration is not valid JSON: " + doc.error; return result; }
  if (root.kind != JsonKind.Object) { result.error = "configuration must be a JSON object"; return result; }
  val.warnUnknown(root, "", ["provider", "providers", "activeProviderId", "statusPath", "statusToken", "paths", "credentialHeaders", "queue", "redis",
    "upstreamFilter", "statusOnly", "affinity", "servedKeyHeader", "servedKeyFilterState"]);
  const provider = activeProvider(val, root);
  if (provider == null) {
    if (val.ok()) val.fail("provider", "is required (or providers with activeProviderId)");
    result.error = val.error;
    return result;
  }
  const cfg = new PluginConfig();
  val.warnUnknown(provider, val.base + ".", ["type", "id", "apiTokens", "failover", "retryOnFailure"]);
  cfg.providerType = val.string(provider, "type", val.base + ".type", "openai");
  if (val.ok() && !KNOWN_PROVIDER_TYPES.includes(cfg.providerType.toLowerCase())) {
    val.fail(val.base + ".type", "must be one of " + KNOWN_PROVIDER_TYPES.join(", ") + " (the key is sent as Bearer, api-key or x-api-key)");
  }
  cfg.providerId = val.string(provider, "id", val.base + ".id", "");
  if (val.ok()) val.tokens(provider, cfg);
  const type = cfg.providerType.toLowerCase();
  if (type == "azure") { cfg.credentialHeader = "api-key"; cfg.credentialPrefix = ""; }
  else if (type == "claude" || type == "anthropic") { cfg.credentialHeader = "x-api-key"; cfg.credentialPrefix = ""; }
  if (val.ok()) parseFailover(val, val.object(provider.get("failover"), val.base + ".failover"), cfg.failover);
  if (val.ok()) parseRetry(val, val.object(provider.get("retryOnFailure"), val.base + ".retryOnFailure"), cfg.retry);
  if (val.ok()) parsePaths(val, root, cfg);
  if (val.ok()) cfg.credentialHeaders = headerNames(val, root, "credentialHeaders");
  if (val.ok()) parseStatusEndpoint(val, root, cfg);
  if (val.ok()) parseServedKey(val, root, cfg);
  if (val.ok()) parseQueue(val, root, cfg.queue);
  if (val.ok()) cfg.redis = parseRedis(val, root);
  if (val.ok()) parsePlacement(val, root, cfg);
  if (val.ok() && cfg.redis != null && !cfg.failover.enabled) {
    val.fail("redis", "needs " + val.base + ".failover.enabled: each process's failover lease holder is the one that syncs with Redis");
  }
  result.warnings = val.warnings;
  if (!val.ok()) { result.error = val.error; return result; }
  result.config = cfg;
  return result;
}

const MAX_WAIT_MS: f64 = 300_000;

/** Reads `queue` from the configuration's root object. */
function parseQueue(val: Validator, root: JsonValue, q: QueueConfig): void {
  const obj = val.object(root.get("queue"), "queue");
  if (obj == null) return;
  val.warnUnknown(obj, "queue.", ["enabled", "maxWaiting", "priorityHeader", "maxWaitMs", "whenFull", "whenExpired"]);
  q.enabled = val.bool(obj, "enabled", "queue.enabled", false);
  q.maxWaiting = val.integer(obj, "maxWaiting", "queue.maxWaiting", 500, 1, 100_000);
  const header = val.string(obj, "priorityHeader", "queue.priorityHeader", "x-priority").toLowerCase();
  if (val.ok() && (header.length == 0 || header.includes(":") || header.includes(" "))) val.fail("queue.priorityHeader", "must be a header name");
  q.priorityHeader = header;
  const waits = val.object(obj.get("maxWaitMs"), "queue.maxWaitMs");
  if (waits != null) {
    val.warnUnknown(waits, "queue.maxWaitMs.", PRIORITIES);
    for (let i = 0; i < PRIORITIES.length && val.ok(); i++) {
      q.maxWaitMs[i] = val.integer(waits, PRIORITIES[i], "queue.maxWaitMs." + PRIORITIES[i], q.maxWaitMs[i], 0, MAX_WAIT_MS);
    }
  }
  const full = val.string(obj, "whenFull", "queue.whenFull", "reject");
  if (full == "reject") q.whenFull = WhenFull.Reject;
  else if (full == "passthrough") q.whenFull = WhenFull.Passthrough;
  else if (full == "drop_lowest") q.whenFull = WhenFull.DropLowest;
  else if (val.ok()) val.fail("queue.whenFull", "must be reject, passthrough or drop_lowest");
  const expired = val.string(obj, "whenExpired", "queue.whenExpired", "reject");
  if (expired == "reject") q.whenExpired = WhenExpired.Reject;
  else if (expired == "passthrough") q.whenExpired = WhenExpired.Passthrough;
  else if (val.ok()) val.fail("queue.whenExpired", "must be reject or passthrough");
}
