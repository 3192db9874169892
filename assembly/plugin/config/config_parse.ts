// Parses and validates the plugin configuration text: refused with one message that names the
// field, unknown fields warned about. Pure: no host calls, so it is unit-tested directly.
import { ConfigResult, FailoverConfig, KNOWN_PROVIDER_TYPES, PluginConfig, RetryConfig } from "./config";
import { EMPTY_SECTION, Validator, isHeaderName, isPrintable } from "./config_validator";
import { field } from "./schema";
import { parseQueue } from "./queue_parse";
import { parseTokens } from "./tokens_parse";
import { parseGroups } from "./groups_parse";
import { parseRedis } from "./redis_parse";
import { parsePlacement } from "./placement_parse";
import { parseNotify } from "./notify_parse";
import { readHeaderPairs } from "./header_pairs";
import { JsonKind, JsonValue, readJson } from "../../util/json";

const FAILOVER = "provider.failover";
const HEALTH_CHECK = "provider.failover.healthCheck";
const RETRY = "provider.retryOnFailure";

function parseFailover(val: Validator, section: JsonValue | null, f: FailoverConfig): void {
  const obj = section != null ? section : EMPTY_SECTION;
  const p = val.base + ".failover.";
  val.known(obj, p, FAILOVER);
  f.enabled = val.flag(obj, p, field(FAILOVER, "enabled"));
  f.failureThreshold = val.int(obj, p, field(FAILOVER, "failureThreshold"));
  f.successThreshold = val.int(obj, p, field(FAILOVER, "successThreshold"));
  f.healthCheckInterval = val.int(obj, p, field(FAILOVER, "healthCheckInterval"));
  f.healthCheckTimeout = val.int(obj, p, field(FAILOVER, "healthCheckTimeout"));
  f.maxProbeInterval = val.int(obj, p, field(FAILOVER, "maxProbeInterval"));
  // The default cap leaves a longer healthCheckInterval as it is; a cap given below it is a mistake.
  if (val.ok() && obj.get("maxProbeInterval") != null && f.maxProbeInterval < f.healthCheckInterval) val.fail(p + "maxProbeInterval", "must be at least healthCheckInterval (" + f.healthCheckInterval.toString() + ")");
  f.healthCheckModel = val.text(obj, p, field(FAILOVER, "healthCheckModel"));
  f.cooldownDuration = val.int(obj, p, field(FAILOVER, "cooldownDuration"));
  f.maxEjectionPercent = val.int(obj, p, field(FAILOVER, "maxEjectionPercent"));
  f.failureConditions = val.rules(obj, "failureConditions", p + "failureConditions");
  const hc = val.object(obj.get("healthCheck"), p + "healthCheck");
  if (hc != null) {
    const q = p + "healthCheck.";
    val.known(hc, q, HEALTH_CHECK);
    f.healthCheck.cluster = val.text(hc, q, field(HEALTH_CHECK, "cluster"));
    f.healthCheck.authority = val.text(hc, q, field(HEALTH_CHECK, "authority"));
    f.healthCheck.path = val.text(hc, q, field(HEALTH_CHECK, "path"));
    f.healthCheck.body = val.text(hc, q, field(HEALTH_CHECK, "body"));
    f.healthCheck.successConditions = val.rules(hc, "successConditions", q + "successConditions");
    readHeaderPairs(val, hc, "headers", q + "headers", f.healthCheck.headerNames, f.healthCheck.headerValues);
    if (f.healthCheck.path.length > 0 && f.healthCheck.path.charAt(0) != "/") val.fail(q + "path", "must start with '/'");
    if (f.healthCheck.body.length > 0 && val.ok()) {
      const parsed = readJson(f.healthCheck.body);
      if (parsed.value == null) val.fail(q + "body", "is not valid JSON (it is sent as the probe's JSON body): " + parsed.error);
    }
  }
  f.failoverOnStatus = val.patterns(section, p, field(FAILOVER, "failoverOnStatus"));
  if (f.enabled && val.ok() && f.healthCheckModel.length == 0 && f.cooldownDuration == 0 && f.healthCheck.body.length == 0) {
    val.fail(p + "healthCheckModel", "is required when failover is enabled (or set cooldownDuration > 0, or healthCheck.body)");
  }
}

// `healthCheck.headers`: "name=value" pairs a provider needs on every request (Anthropic's
// anthropic-version), which probes cannot learn from traffic: only the route's own headers are kept.

function parseRetry(val: Validator, section: JsonValue | null, r: RetryConfig): void {
  const obj = section != null ? section : EMPTY_SECTION;
  const p = val.base + ".retryOnFailure.";
  val.known(obj, p, RETRY);
  r.enabled = val.flag(obj, p, field(RETRY, "enabled"));
  r.maxRetries = val.int(obj, p, field(RETRY, "maxRetries"));
  r.retryTimeout = val.int(obj, p, field(RETRY, "retryTimeout"));
  r.streamRetryTimeout = val.int(obj, p, field(RETRY, "streamRetryTimeout"));
  r.maxStreamAnswerBytes = val.int(obj, p, field(RETRY, "maxStreamAnswerBytes"));
  r.retryOnFailureConditions = val.flag(obj, p, field(RETRY, "retryOnFailureConditions"));
  r.maxHeldBytes = val.int(obj, p, field(RETRY, "maxHeldBytes"));
  r.inPlaceBytes = val.int(obj, p, field(RETRY, "inPlaceBytes"));
  r.retryOnStatus = val.patterns(section, p, field(RETRY, "retryOnStatus"));
}

// Names a client may send (header-name characters only), lower-cased; `what` names one in a refusal.
function names(val: Validator, root: JsonValue, key: string, what: string): string[] {
  const out: string[] = [];
  const v = root.get(key);
  if (v == null) return out;
  if (v.kind != JsonKind.Array) { val.fail(key, "must be an array of " + what + "s"); return out; }
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    if (item.kind != JsonKind.String || !isHeaderName(item.str)) { val.fail(key + "[" + i.toString() + "]", "must be a " + what); return out; }
    out.push(item.str.toLowerCase());
  }
  return out;
}

function parsePaths(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  const v = root.get("paths");
  const given = stringsOf(v != null ? v : readJson(field("", "paths").dflt).value!);
  if (given == null || given.length == 0) { val.fail("paths", "must be a non-empty array of path patterns"); return; }
  const inference: string[] = [];
  const listing: string[] = [];
  for (let i = 0; i < given.length; i++) {
    const item = given[i];
    // `GET <pattern>`: a listing path (see PathKind.Listing); no other method may be named.
    const isListing = item != null && item.startsWith(LISTING_PREFIX);
    const pattern = item == null ? "" : isListing ? item.substring(LISTING_PREFIX.length) : item;
    const ok = pattern.length > 0 && pattern.length <= 256 &&
      (pattern.charAt(0) == "/" || pattern.charAt(0) == "*") && !pattern.includes("?") && !pattern.includes(" ");
    if (!ok) { val.fail("paths[" + i.toString() + "]", "must be a path pattern starting with '/' or '*', or 'GET ' and one for a listing (no '?' or spaces; * matches any run of characters)"); return; }
    if (isListing) listing.push(pattern);
    else inference.push(pattern);
  }
  cfg.paths = inference;
  cfg.listingPaths = listing;
}

const LISTING_PREFIX = "GET ";

// The items of an array (null: not an array; a null item: not a string).
function stringsOf(v: JsonValue): (string | null)[] | null {
  if (v.kind != JsonKind.Array) return null;
  const out = new Array<string | null>(v.items.length);
  for (let i = 0; i < v.items.length; i++) out[i] = v.items[i].kind == JsonKind.String ? v.items[i].str : null;
  return out;
}

function parseStatusEndpoint(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  cfg.statusPath = val.text(root, "", field("", "statusPath"));
  cfg.statusToken = val.text(root, "", field("", "statusToken"));
  if (!val.ok()) return;
  if (cfg.statusPath.length > 0 && cfg.statusPath.charAt(0) != "/") val.fail("statusPath", "must start with '/'");
  else if (cfg.statusPath.includes("?")) val.fail("statusPath", "must not contain '?' (the path is matched without its query)");
  else if (cfg.statusPath.length > 0 && cfg.servesPath(cfg.statusPath)) val.fail("statusPath", "must not match paths (it would answer the API requests)");
  else if (cfg.statusToken.length > 0 && !isPrintable(cfg.statusToken)) val.fail("statusToken", "must not contain spaces or control characters");
  else if (cfg.statusPath.length > 0 && cfg.statusToken.length == 0) val.fail("statusToken", "is required with statusPath");
  else if (cfg.statusPath.length == 0 && cfg.statusToken.length > 0) val.fail("statusPath", "is required with statusToken");
}

function parseServedKey(val: Validator, root: JsonValue, cfg: PluginConfig): void {
  const header = val.text(root, "", field("", "servedKeyHeader"));
  if (val.ok() && header.length > 0 && !isHeaderName(header)) val.fail("servedKeyHeader", "must be a header name");
  cfg.servedKeyHeader = header.toLowerCase();
  cfg.servedKeyFilterState = val.flag(root, "", field("", "servedKeyFilterState"));
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
  const doc = readJson(text.trim());
  const root = doc.value;
  if (root == null) {
    const result = new ConfigResult();
    result.error = "configuration is not valid JSON: " + doc.error;
    return result;
  }
  return parseConfigValue(root);
}

/** Reads a configuration already parsed as JSON (the whole configuration, or one rule's read over it). */
export function parseConfigValue(root: JsonValue): ConfigResult {
  const result = new ConfigResult();
  const val = new Validator();
  if (root.kind != JsonKind.Object) { result.error = "configuration must be a JSON object"; return result; }
  val.known(root, "", "");
  const provider = activeProvider(val, root);
  if (provider == null) {
    if (val.ok()) val.fail("provider", "is required (or providers with activeProviderId)");
    result.error = val.error;
    return result;
  }
  const cfg = new PluginConfig();
  cfg.providerField = val.base;
  val.known(provider, val.base + ".", "provider");
  cfg.providerType = val.text(provider, val.base + ".", field("provider", "type"));
  if (val.ok() && !KNOWN_PROVIDER_TYPES.includes(cfg.providerType.toLowerCase())) {
    val.fail(val.base + ".type", "must be one of " + KNOWN_PROVIDER_TYPES.join(", ") + " (the key is sent as Bearer, api-key or x-api-key)");
  }
  cfg.providerId = val.text(provider, val.base + ".", field("provider", "id"));
  cfg.dailyResetUtcHour = val.int(provider, val.base + ".", field("provider", "dailyResetUtcHour"));
  if (val.ok()) parseTokens(val, provider, cfg);
  if (val.ok()) parseGroups(val, provider, cfg);
  const type = cfg.providerType.toLowerCase();
  if (type == "azure") { cfg.credentialHeader = "api-key"; cfg.credentialPrefix = ""; }
  else if (type == "claude" || type == "anthropic") { cfg.credentialHeader = "x-api-key"; cfg.credentialPrefix = ""; }
  if (val.ok()) parseFailover(val, val.object(provider.get("failover"), val.base + ".failover"), cfg.failover);
  if (val.ok()) parseRetry(val, val.object(provider.get("retryOnFailure"), val.base + ".retryOnFailure"), cfg.retry);
  if (val.ok()) parsePaths(val, root, cfg);
  if (val.ok()) cfg.credentialHeaders = names(val, root, "credentialHeaders", "header name");
  if (val.ok()) cfg.credentialParams = names(val, root, "credentialParams", "query parameter name");
  if (val.ok()) parseStatusEndpoint(val, root, cfg);
  if (val.ok()) parseNotify(val, root, cfg.notify);
  if (val.ok() && cfg.notify.enabled && !cfg.failover.enabled) {
    val.fail("notify", "needs " + val.base + ".failover.enabled: the failover lease holder is the one that sends");
  }
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

