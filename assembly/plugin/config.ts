// Plugin configuration: parsed from JSON, validated field by field, refused with a message that
// names the field. Pure: no host calls, so it is unit-tested directly.
import { JsonKind, JsonValue, jsonError, parseJson } from "./json";
import { StatusSet, patternError } from "./status_pattern";
import { globMatch } from "./glob";

/** One header test of a rule: `name=value` (exact value) or bare `name` (present). */
export class HeaderCondition {
  constructor(public name: string, public value: string | null) {}
}

/** A rule that matches a response when all of its given parts match. */
export class ResponseRule {
  statuses: StatusSet | null = null;
  headers: HeaderCondition[] = [];
  body: string | null = null;
  /** `body` as UTF-8, the form it is searched in. */
  bodyBytes: ArrayBuffer | null = null;
}

/** Probe request and success rules (SPEC 5.2); empty strings mean "derive from traffic". */
export class HealthCheckConfig {
  cluster: string = "";
  authority: string = "";
  path: string = "";
  body: string = "";
  successConditions: ResponseRule[] = [];
}

/** failover section. */
export class FailoverConfig {
  enabled: bool = false;
  failureThreshold: i32 = 3;
  successThreshold: i32 = 1;
  healthCheckInterval: i32 = 5000;
  healthCheckTimeout: i32 = 5000;
  healthCheckModel: string = "";
  cooldownDuration: i32 = 0;
  /** Passive evidence never takes out more than this share of the configured keys (percent). */
  maxEjectionPercent: i32 = 50;
  failoverOnStatus: StatusSet = new StatusSet();
  failureConditions: ResponseRule[] = [];
  healthCheck: HealthCheckConfig = new HealthCheckConfig();
}

/** retryOnFailure section. */
export class RetryConfig {
  enabled: bool = false;
  maxRetries: i32 = 1;
  retryTimeout: i32 = 30000;
  retryOnStatus: StatusSet = new StatusSet();
  /** Request body bytes one VM holds for retries at once; over it a request goes without a retry. */
  maxHeldBytes: i32 = DEFAULT_MAX_HELD_BYTES;
}

/** Per-key options of an `apiTokens` entry given as an object. */
export class KeyOptions {
  /** Relative share of the traffic among eligible keys. */
  weight: i32 = 1;
  /** Glob patterns of the models this key serves; null: every model. */
  models: string[] | null = null;
  /** Requests per minute this key may be sent (0: no budget). */
  rpm: i64 = 0;
  /** Tokens per minute (prompt and completion) this key may use (0: no budget). */
  tpm: i64 = 0;
  /** Requests the key's bucket holds at most (0: its whole minute, `rpm`). */
  burst: i64 = 0;
}

/** The whole validated configuration. */
export class PluginConfig {
  providerType: string = "openai";
  providerId: string = "";
  apiTokens: string[] = [];
  /** Options of each key, by index in apiTokens. */
  keys: KeyOptions[] = [];
  /** Lower-case name of the header that carries the token upstream. */
  credentialHeader: string = "authorization";
  /** Text put before the token in that header. */
  credentialPrefix: string = "Bearer ";
  failover: FailoverConfig = new FailoverConfig();
  retry: RetryConfig = new RetryConfig();
  /** Path answered by the plugin with the pool status ("" = no status endpoint). */
  statusPath: string = "";
  /** Bearer token the status endpoint requires. */
  statusToken: string = "";
  /** Glob patterns of the client paths (query excluded) that get a pool key: the inference endpoints. */
  paths: string[] = DEFAULT_PATHS;
  /** Header names removed from every request, beyond the built-in credential headers (lower case). */
  credentialHeaders: string[] = [];

  /** Whether a client path (without its query) is one the plugin serves with a pool key. */
  servesPath(path: string): bool {
    for (let i = 0; i < this.paths.length; i++) if (globMatch(this.paths[i], path)) return true;
    return false;
  }
}

/** Paths served with a pool key unless `paths` says otherwise: OpenAI's and Anthropic's inference endpoints. */
export const DEFAULT_PATHS = ["*/chat/completions", "*/completions", "*/embeddings", "*/responses", "*/messages"];
/** Bytes of request bodies one VM holds for retries at once, by default. */
export const DEFAULT_MAX_HELD_BYTES: i32 = 16 << 20;
/**
 * Provider types whose key goes in a header this plugin sets: Bearer for OpenAI and the providers
 * with an OpenAI-compatible mode, `api-key` for Azure, `x-api-key` for Anthropic.
 */
export const KNOWN_PROVIDER_TYPES = ["openai", "azure", "claude", "anthropic", "qwen", "moonshot", "deepseek", "zhipuai",
  "groq", "grok", "mistral", "baichuan", "yi", "ollama", "ai360", "doubao", "stepfun", "minimax", "github",
  "together-ai", "openrouter", "cohere", "cloudflare", "hunyuan", "fireworks", "vllm"];

/** Outcome of parseConfig: a config, or the error naming the field; warnings either way. */
export class ConfigResult {
  config: PluginConfig | null = null;
  error: string = "";
  warnings: string[] = [];
}

const DEFAULT_FAILOVER_ON_STATUS = ["401", "403", "429", "5.."];
// The same key faults that failover counts, so with defaults a client never sees a dead key.
const DEFAULT_RETRY_ON_STATUS = ["401", "403", "429", "5.."];
const MAX_MS: f64 = 86_400_000; // one day: a bound that still fits every timer argument
const MAX_COUNT: f64 = 1_000_000;

class Validator {
  /** The provider block's field name in messages: `provider`, or `providers[i]`. */
  base: string = "provider";
  error: string = "";
  warnings: string[] = [];

  ok(): bool { return this.error.length == 0; }

  fail(field: string, what: string): void {
    if (this.error.length == 0) this.error = field + " " + what;
  }

  object(v: JsonValue | null, field: string): JsonValue | null {
    if (v == null) return null;
    if (v.kind != JsonKind.Object) { this.fail(field, "must be an object"); return null; }
    return v;
  }

  warnUnknown(obj: JsonValue, prefix: string, known: string[]): void {
    for (let i = 0; i < obj.keys.length; i++) {
      if (!known.includes(obj.keys[i])) this.warnings.push("unknown field " + prefix + obj.keys[i] + " ignored");
    }
  }

  bool(obj: JsonValue, key: string, field: string, dflt: bool): bool {
    const v = obj.get(key);
    if (v == null) return dflt;
    if (v.kind != JsonKind.Bool) { this.fail(field, "must be true or false"); return dflt; }
    return v.bool;
  }

  integer(obj: JsonValue, key: string, field: string, dflt: i32, min: f64, max: f64): i32 {
    const v = obj.get(key);
    if (v == null) return dflt;
    if (v.kind != JsonKind.Number || v.num != Math.floor(v.num) || v.num < min || v.num > max) {
      this.fail(field, "must be an integer from " + (<i64>min).toString() + " to " + (<i64>max).toString());
      return dflt;
    }
    return <i32>v.num;
  }

  string(obj: JsonValue, key: string, field: string, dflt: string): string {
    const v = obj.get(key);
    if (v == null) return dflt;
    if (v.kind != JsonKind.String) { this.fail(field, "must be a string"); return dflt; }
    return v.str;
  }

  statusSet(obj: JsonValue | null, key: string, field: string, dflt: string[]): StatusSet {
    const set = new StatusSet();
    let v: JsonValue | null = null;
    if (obj != null) v = obj.get(key);
    if (v == null) {
      for (let i = 0; i < dflt.length; i++) set.addPattern(dflt[i]);
      return set;
    }
    if (v.kind != JsonKind.Array) { this.fail(field, "must be an array of status patterns"); return set; }
    for (let i = 0; i < v.items.length; i++) {
      const item = v.items[i];
      let text = "";
      if (item.kind == JsonKind.String) text = item.str;
      else if (item.kind == JsonKind.Number && item.num == Math.floor(item.num) && item.num >= 0 && item.num < 1000) text = (<i32>item.num).toString();
      else { this.fail(field + "[" + i.toString() + "]", "must be a status pattern string"); return set; }
      if (!set.addPattern(text)) { this.fail(field + "[" + i.toString() + "]", "is not a valid status pattern: " + patternError); return set; }
    }
    return set;
  }

  rules(obj: JsonValue, key: string, field: string): ResponseRule[] {
    const out: ResponseRule[] = [];
    const v = obj.get(key);
    if (v == null) return out;
    if (v.kind != JsonKind.Array) { this.fail(field, "must be an array of rules"); return out; }
    for (let i = 0; i < v.items.length && this.ok(); i++) {
      const name = field + "[" + i.toString() + "]";
      const r = this.object(v.items[i], name);
      if (r == null) { this.fail(name, "must be an object"); return out; }
      this.warnUnknown(r, name + ".", ["status", "headers", "body"]);
      const rule = new ResponseRule();
      if (r.get("status") != null) rule.statuses = this.statusSet(r, "status", name + ".status", []);
      const hs = r.get("headers");
      if (hs != null) {
        if (hs.kind != JsonKind.Array) { this.fail(name + ".headers", "must be an array of strings"); return out; }
        for (let j = 0; j < hs.items.length; j++) {
          const h = hs.items[j];
          if (h.kind != JsonKind.String || h.str.length == 0 || h.str.charAt(0) == "=") {
            this.fail(name + ".headers[" + j.toString() + "]", "must be \"name\" or \"name=value\"");
            return out;
          }
          const eq = h.str.indexOf("=");
          rule.headers.push(eq < 0
            ? new HeaderCondition(h.str.trim().toLowerCase(), null)
            : new HeaderCondition(h.str.substring(0, eq).trim().toLowerCase(), h.str.substring(eq + 1)));
        }
      }
      const body = r.get("body");
      if (body != null) {
        if (body.kind != JsonKind.String || body.str.length == 0) { this.fail(name + ".body", "must be a non-empty string"); return out; }
        rule.body = body.str;
        rule.bodyBytes = String.UTF8.encode(body.str);
      }
      if (rule.statuses == null && rule.headers.length == 0 && rule.body == null) {
        this.fail(name, "must give at least one of status, headers, body");
        return out;
      }
      out.push(rule);
    }
    return out;
  }

  /** Fills cfg.apiTokens and cfg.keys from `apiTokens`: each entry a token string or an object with options. */
  tokens(provider: JsonValue, cfg: PluginConfig): void {
    const v = provider.get("apiTokens");
    if (v == null || v.kind != JsonKind.Array || v.items.length == 0) {
      this.fail(this.base + ".apiTokens", "must be a non-empty array of strings");
      return;
    }
    for (let i = 0; i < v.items.length && this.ok(); i++) {
      const field = this.base + ".apiTokens[" + i.toString() + "]";
      let t = v.items[i];
      const opts = new KeyOptions();
      let tokenField = field;
      if (t.kind == JsonKind.Object) {
        this.warnUnknown(t, field + ".", ["token", "weight", "models", "rpm", "tpm", "burst"]);
        tokenField = field + ".token";
        const token = t.get("token");
        if (token == null) { this.fail(tokenField, "is required"); return; }
        opts.weight = this.integer(t, "weight", field + ".weight", 1, 1, 1000);
        opts.models = this.models(t, field + ".models");
        opts.rpm = <i64>this.integer(t, "rpm", field + ".rpm", 0, 1, 1_000_000_000);
        opts.tpm = <i64>this.integer(t, "tpm", field + ".tpm", 0, 1, 2_000_000_000);
        opts.burst = <i64>this.integer(t, "burst", field + ".burst", 0, 1, 1_000_000_000);
        if (opts.burst > 0 && opts.rpm == 0) this.fail(field + ".burst", "needs rpm (it caps the requests the rpm bucket holds)");
        t = token;
      }
      if (!this.ok()) return;
      if (t.kind != JsonKind.String || t.str.length == 0) {
        this.fail(tokenField, "must be a non-empty string");
        return;
      }
      if (!isHeaderSafe(t.str)) {
        this.fail(tokenField, "must not contain control characters or start or end with a space");
        return;
      }
      if (cfg.apiTokens.includes(t.str)) {
        this.fail(tokenField, "duplicates an earlier token");
        return;
      }
      cfg.apiTokens.push(t.str);
      cfg.keys.push(opts);
    }
  }

  models(obj: JsonValue, field: string): string[] | null {
    const v = obj.get("models");
    if (v == null) return null;
    if (v.kind != JsonKind.Array || v.items.length == 0) { this.fail(field, "must be a non-empty array of model patterns"); return null; }
    const out: string[] = [];
    for (let i = 0; i < v.items.length; i++) {
      const m = v.items[i];
      if (m.kind != JsonKind.String || m.str.length == 0 || m.str.length > 256) {
        this.fail(field + "[" + i.toString() + "]", "must be a model name or pattern (1 to 256 characters; * and ? are wildcards)");
        return null;
      }
      out.push(m.str);
    }
    return out;
  }
}

// A token is sent as a header value: CR, LF, NUL and other control characters would be refused
// by the host or split the header, and surrounding spaces would be trimmed away.
function isHeaderSafe(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return s.charCodeAt(0) != 0x20 && s.charCodeAt(s.length - 1) != 0x20;
}

// Visible ASCII only: what a client can send in `Authorization: Bearer <token>` and compare exactly.
function isPrintable(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

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
    val.warnUnknown(obj, p, ["enabled", "maxRetries", "retryTimeout", "retryOnStatus", "maxHeldBytes"]);
    r.enabled = val.bool(obj, "enabled", p + "enabled", false);
    r.maxRetries = val.integer(obj, "maxRetries", p + "maxRetries", 1, 0, 100);
    r.retryTimeout = val.integer(obj, "retryTimeout", p + "retryTimeout", 30000, 1, MAX_MS);
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

function isHeaderName(s: string): bool {
  if (s.length == 0 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f || c == 0x2e;
    if (!ok) return false;
  }
  return true;
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
  const root = parseJson(text.trim());
  if (root == null) { result.error = "configuration is not valid JSON: " + jsonError; return result; }
  if (root.kind != JsonKind.Object) { result.error = "configuration must be a JSON object"; return result; }
  val.warnUnknown(root, "", ["provider", "providers", "activeProviderId", "statusPath", "statusToken", "paths", "credentialHeaders"]);
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
  result.warnings = val.warnings;
  if (!val.ok()) { result.error = val.error; return result; }
  result.config = cfg;
  return result;
}
