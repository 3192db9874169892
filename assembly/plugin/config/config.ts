// The plugin configuration as the plugin uses it, after config_parse.ts has validated it. Pure.
import { StatusSet } from "../../util/status_pattern";
import { globMatch, globMatchBytes } from "../../util/glob";
import { HeaderList } from "../../util/header_list";
import { QueueConfig } from "./queue_config";
import { RedisConfig } from "./redis_config";

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
  /** A key this failure takes out is dead (revoked, out of credit), not tired: it is probed at a growing interval. */
  dead: bool = false;
}

/** Probe request and success rules (SPEC 5.2); empty strings mean "derive from traffic". */
export class HealthCheckConfig {
  cluster: string = "";
  authority: string = "";
  path: string = "";
  body: string = "";
  /** Headers every probe carries (`name=value`), over those learned from the route. */
  headerNames: string[] = [];
  headerValues: string[] = [];
  successConditions: ResponseRule[] = [];
}

/** failover section. */
export class FailoverConfig {
  enabled: bool = false;
  failureThreshold: i32 = 3;
  successThreshold: i32 = 1;
  healthCheckInterval: i32 = 5000;
  /** The longest interval between two probes of a dead key (they start at healthCheckInterval and double). */
  maxProbeInterval: i32 = 300_000;
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
  /** Timeout of one retry of a streaming request: its whole answer arrives before the client gets any of it. */
  streamRetryTimeout: i32 = 120000;
  /** The largest retried stream answer delivered (0: streaming requests are not retried). */
  maxStreamAnswerBytes: i32 = 4 << 20;
  retryOnStatus: StatusSet = new StatusSet();
  /** An answer a failure rule (failover.failureConditions) matched is retried like a failing status. */
  retryOnFailureConditions: bool = true;
  /** Request body bytes one VM holds for retries at once; over it a request goes without a retry. */
  maxHeldBytes: i32 = DEFAULT_MAX_HELD_BYTES;
  /**
   * Retry answers up to this size replace the held failure in place (the filters before the
   * plugin see them); larger ones are the plugin's own reply: Envoy answers 500 when a filter's
   * buffered response grows past the listener's per_connection_buffer_limit_bytes (1 MiB).
   */
  inPlaceBytes: i32 = 1 << 20;
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
  /** The key serves only when no eligible key of a lower tier is left (0 first, up to 9). */
  tier: i32 = 0;
  /** Requests per day this key may be sent (0: no quota); a day starts at dailyResetUtcHour. */
  rpd: i64 = 0;
  /** Tokens per day (prompt and completion) this key may use (0: no quota). */
  tpd: i64 = 0;
  /** The account group whose shared limits the key also needs room in (index in PluginConfig.groups; -1: none). */
  group: i32 = -1;
}

/** Where the operator is told of key and provider changes (notify); off without a cluster. */
export class NotifyConfig {
  cluster: string = "";
  authority: string = "";
  path: string = "";
  headerNames: string[] = [];
  headerValues: string[] = [];
  /** A key dead for longer than this is reported once more. */
  deadAfterMs: i32 = 3_600_000;
  get enabled(): bool { return this.cluster.length > 0; }
}

/** The whole validated configuration. */
export class PluginConfig {
  providerType: string = "openai";
  providerId: string = "";
  notify: NotifyConfig = new NotifyConfig();
  /** The UTC hour at which every key's day (rpd, tpd) starts. */
  dailyResetUtcHour: i32 = 0;
  apiTokens: string[] = [];
  /** Options of each key, by index in apiTokens. */
  keys: KeyOptions[] = [];
  /** Account groups (provider.groups): their names, and their shared limits (rpm, tpm, rpd, tpd). */
  groupNames: string[] = [];
  groups: KeyOptions[] = [];
  /** Per key, the group its entry names ("": none), until the groups are read. */
  keyGroups: string[] = [];
  /** Per key, the environment variable its token is read from ("": given in the configuration). */
  keyEnv: string[] = [];
  /** The provider block's name in messages: `provider`, or `providers[i]`. */
  providerField: string = "provider";
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
  /** Response header naming the key that served the request ("": none). */
  servedKeyHeader: string = "";
  /** The served key (and the keys tried) also go into the stream's filter state, for access logs. */
  servedKeyFilterState: bool = false;
  /** Glob patterns of the client paths (query excluded) that get a pool key: the inference endpoints. */
  paths: string[] = DEFAULT_PATHS;
  /**
   * Glob patterns of the paths whose GET requests get a pool key as listings (`paths` entries
   * written `GET <pattern>`): model lists. Their answers are never judged (see PathKind.Listing).
   */
  listingPaths: string[] = DEFAULT_LISTING_PATHS;
  /** Header names removed from every request, beyond the built-in credential headers (lower case). */
  credentialHeaders: string[] = [];
  /**
   * Tells this configuration's pool apart from others of the same provider type and id (a
   * Higress rule with keys of its own); "" for the global configuration's, and for a rule with the
   * same provider and keys, which shares its pool.
   */
  poolName: string = "";
  /** More query parameters removed from every request (lower case), beyond CREDENTIAL_PARAMS. */
  credentialParams: string[] = [];
  queue: QueueConfig = new QueueConfig();
  /** Where the gateway's replicas share the pool (Higress build); null: this process keeps it alone. */
  redis: RedisConfig | null = null;
  /** The plugin runs as an upstream filter of the cluster: every router attempt gets its own key. */
  upstreamFilter: bool = false;
  /** This instance only answers the status path (beside an upstream-filter instance in the same VM). */
  statusOnly: bool = false;
  /** Lower-case name of the header whose value keeps a consumer on one key ("": none). */
  affinityHeader: string = "";
  /** The body member whose value keeps a consumer on one key when the header is absent, as its path's names (null: none). */
  affinityBodyField: string[] | null = null;

  /** Whether a client path (without its query) is one the plugin serves with a pool key, by any method. */
  servesPath(path: string): bool {
    for (let i = 0; i < this.paths.length; i++) if (globMatch(this.paths[i], path)) return true;
    for (let i = 0; i < this.listingPaths.length; i++) if (globMatch(this.listingPaths[i], path)) return true;
    return false;
  }

  /**
   * What the plugin does with a request for the path's `len` bytes at `ptr` (see
   * HeaderList.rawPath) sent with method `raw`'s `:method`; the method is read only for a listing path.
   */
  pathKindAt(ptr: usize, len: i32, raw: ArrayBuffer): PathKind {
    for (let i = 0; i < this.paths.length; i++) if (globMatchBytes(this.paths[i], ptr, len)) return PathKind.Inference;
    for (let i = 0; i < this.listingPaths.length; i++) {
      if (!globMatchBytes(this.listingPaths[i], ptr, len)) continue;
      return HeaderList.rawText(raw, ":method") == "GET" && plainSegments(ptr, len) ? PathKind.Listing : PathKind.Unkeyed;
    }
    return PathKind.Unkeyed;
  }

  /** Whether a path's `len` bytes at `ptr` are the status path. */
  isStatusPathAt(ptr: usize, len: i32): bool {
    const s = this.statusPath;
    if (s.length == 0 || s.length != len) return false;
    for (let i = 0; i < len; i++) if (<i32>load<u8>(ptr + <usize>i) != s.charCodeAt(i)) return false;
    return true;
  }
}

/** Paths served with a pool key unless `paths` says otherwise: OpenAI's and Anthropic's inference endpoints. */
export const DEFAULT_PATHS = ["*/chat/completions", "*/completions", "*/embeddings", "*/responses", "*/messages"];
// And the model lists (`GET */models` and `GET */models/*` in `paths`).
export const DEFAULT_LISTING_PATHS = ["*/models", "*/models/*"];

export enum PathKind {
  /** Not the plugin's: goes on without the client's credentials. */
  Unkeyed,
  /** An inference request: a key chosen by the pool's rules, its answers judged, retried. */
  Inference,
  /**
   * A GET of a listing path (the models): goes with a key of the pool, budgets and pacing aside;
   * its answers are never judged, so no client can take keys out or end a provider outage with one.
   */
  Listing,
}

// A listing path with a dot segment, a percent escape or a backslash could name another endpoint
// once the provider normalizes it (`/v1/models/../files`): it gets no key.
function plainSegments(ptr: usize, len: i32): bool {
  for (let i = 0; i < len; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c == 0x25 || c == 0x5c) return false;
    if (c == 0x2e && i > 0 && load<u8>(ptr + <usize>(i - 1)) == 0x2f) return false;
  }
  return true;
}

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
