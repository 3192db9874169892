// Every configuration field in one place: where it sits, its kind, its default and its limits. The
// parser takes defaults, limits and the names it knows from here; tests check the reference
// table of docs/configuration.md and deploy/higress/spec.yaml (generated from this list, scripts/gen_spec.ts) against
// it. Written in the subset of TypeScript that AssemblyScript and Node share, so both import it.

/** One field. `dflt` is its default as JSON text ("" when it has none: required, or absent means off). */
export class Field {
  constructor(
    /** The object holding it: "" (the top level), "provider.failover", "provider.apiTokens[]" (an entry object), … */
    public object: string,
    public key: string,
    /** boolean, integer, string, strings (array of strings), patterns (status patterns), rules, tokens, object, objects. */
    public kind: string,
    public dflt: string = "",
    public min: number = 0,
    public max: number = 0,
  ) {}

  /** The field's full path, as the docs and error messages name it. */
  get path(): string { return this.object.length == 0 ? this.key : this.object + "." + this.key; }
}

/** One day in ms: a bound that still fits every timer argument. */
export const MAX_MS: number = 86_400_000;
export const MAX_COUNT: number = 1_000_000;
export const DEFAULT_KEY_STATUSES = "[\"401\",\"403\",\"429\",\"5..\"]";
export const DEFAULT_PATHS = "[\"*/chat/completions\",\"*/completions\",\"*/embeddings\",\"*/responses\",\"*/messages\",\"GET */models\",\"GET */models/*\"]";

export const FIELDS: Field[] = [
  new Field("", "provider", "object"),
  new Field("", "providers", "objects"),
  new Field("", "activeProviderId", "string"),
  new Field("", "paths", "strings", DEFAULT_PATHS),
  new Field("", "credentialHeaders", "strings", "[]"),
  new Field("", "credentialParams", "strings", "[]"),
  new Field("", "statusPath", "string", "\"\""),
  new Field("", "notify", "object"),
  new Field("notify", "cluster", "string"),
  new Field("notify", "authority", "string"),
  new Field("notify", "path", "string"),
  new Field("notify", "headers", "strings", "[]"),
  new Field("notify", "deadAfterMs", "integer", "3600000", 1, MAX_MS),
  new Field("", "statusToken", "string"),
  new Field("", "servedKeyHeader", "string", "\"\""),
  new Field("", "servedKeyFilterState", "boolean", "false"),
  new Field("", "upstreamFilter", "boolean", "false"),
  new Field("", "statusOnly", "boolean", "false"),
  new Field("", "affinity", "object"),
  new Field("", "queue", "object"),
  new Field("", "redis", "object"),

  new Field("provider", "type", "string", "\"openai\""),
  new Field("provider", "id", "string", "\"\""),
  new Field("provider", "apiTokens", "tokens"),
  new Field("provider", "failover", "object"),
  new Field("provider", "retryOnFailure", "object"),
  new Field("provider", "dailyResetUtcHour", "integer", "0", 0, 23),
  new Field("provider", "groups", "groups"),
  new Field("provider.groups.*", "rpm", "integer", "", 1, 1_000_000_000),
  new Field("provider.groups.*", "tpm", "integer", "", 1, 2_000_000_000),
  new Field("provider.groups.*", "rpd", "integer", "", 1, 1_000_000_000),
  new Field("provider.groups.*", "tpd", "integer", "", 1, 2_000_000_000),

  new Field("provider.apiTokens[]", "token", "string"),
  new Field("provider.apiTokens[]", "env", "string"),
  new Field("provider.apiTokens[]", "weight", "integer", "1", 1, 1000),
  new Field("provider.apiTokens[]", "models", "strings"),
  new Field("provider.apiTokens[]", "rpm", "integer", "", 1, 1_000_000_000),
  new Field("provider.apiTokens[]", "tpm", "integer", "", 1, 2_000_000_000),
  new Field("provider.apiTokens[]", "burst", "integer", "", 1, 1_000_000_000),
  new Field("provider.apiTokens[]", "tier", "integer", "0", 0, 9),
  new Field("provider.apiTokens[]", "rpd", "integer", "", 1, 1_000_000_000),
  new Field("provider.apiTokens[]", "tpd", "integer", "", 1, 2_000_000_000),
  new Field("provider.apiTokens[]", "group", "string"),

  new Field("provider.failover", "enabled", "boolean", "false"),
  new Field("provider.failover", "failureThreshold", "integer", "3", 1, MAX_COUNT),
  new Field("provider.failover", "successThreshold", "integer", "1", 1, MAX_COUNT),
  new Field("provider.failover", "healthCheckInterval", "integer", "5000", 1, MAX_MS),
  new Field("provider.failover", "healthCheckTimeout", "integer", "5000", 1, MAX_MS),
  new Field("provider.failover", "maxProbeInterval", "integer", "300000", 1, MAX_MS),
  new Field("provider.failover", "healthCheckModel", "string"),
  new Field("provider.failover", "cooldownDuration", "integer", "0", 0, MAX_MS),
  new Field("provider.failover", "maxEjectionPercent", "integer", "50", 0, 100),
  new Field("provider.failover", "failoverOnStatus", "patterns", DEFAULT_KEY_STATUSES),
  new Field("provider.failover", "failureConditions", "rules", "[]"),
  new Field("provider.failover", "healthCheck", "object"),

  new Field("provider.failover.healthCheck", "cluster", "string"),
  new Field("provider.failover.healthCheck", "authority", "string"),
  new Field("provider.failover.healthCheck", "path", "string"),
  new Field("provider.failover.healthCheck", "body", "string"),
  new Field("provider.failover.healthCheck", "headers", "strings", "[]"),
  new Field("provider.failover.healthCheck", "successConditions", "rules", "[]"),

  new Field("provider.failover.failureConditions[]", "status", "patterns"),
  new Field("provider.failover.failureConditions[]", "headers", "strings"),
  new Field("provider.failover.failureConditions[]", "body", "string"),
  new Field("provider.failover.failureConditions[]", "dead", "boolean", "false"),

  new Field("provider.retryOnFailure", "enabled", "boolean", "false"),
  new Field("provider.retryOnFailure", "maxRetries", "integer", "1", 0, 100),
  new Field("provider.retryOnFailure", "retryTimeout", "integer", "30000", 1, MAX_MS),
  new Field("provider.retryOnFailure", "streamRetryTimeout", "integer", "120000", 1, MAX_MS),
  new Field("provider.retryOnFailure", "maxStreamAnswerBytes", "integer", "4194304", 0, 16_777_216),
  new Field("provider.retryOnFailure", "retryOnStatus", "patterns", DEFAULT_KEY_STATUSES),
  new Field("provider.retryOnFailure", "retryOnFailureConditions", "boolean", "true"),
  new Field("provider.retryOnFailure", "maxHeldBytes", "integer", "16777216", 0, 1_073_741_824),
  new Field("provider.retryOnFailure", "inPlaceBytes", "integer", "1048576", 0, 4_194_304),

  new Field("queue", "enabled", "boolean", "false"),
  new Field("queue", "maxWaiting", "integer", "500", 1, 100_000),
  new Field("queue", "priorityHeader", "string", "\"x-priority\""),
  new Field("queue", "maxWaitMs", "object"),
  new Field("queue", "whenFull", "string", "\"reject\""),
  new Field("queue", "whenExpired", "string", "\"reject\""),
  new Field("queue.maxWaitMs", "urgent", "integer", "30000", 0, 300_000),
  new Field("queue.maxWaitMs", "high", "integer", "30000", 0, 300_000),
  new Field("queue.maxWaitMs", "normal", "integer", "10000", 0, 300_000),
  new Field("queue.maxWaitMs", "low", "integer", "2000", 0, 300_000),
  new Field("queue", "share", "object"),
  new Field("queue.share", "urgent", "integer", "50", 1, 100),
  new Field("queue.share", "high", "integer", "50", 1, 100),
  new Field("queue.share", "normal", "integer", "80", 1, 100),
  new Field("queue.share", "low", "integer", "100", 1, 100),

  new Field("affinity", "header", "string"),
  new Field("affinity", "bodyField", "string"),

  new Field("redis", "serviceName", "string"),
  new Field("redis", "servicePort", "integer", "6379", 1, 65535),
  new Field("redis", "username", "string", "\"\""),
  new Field("redis", "password", "string", "\"\""),
  new Field("redis", "database", "integer", "0", 0, 1000),
  new Field("redis", "timeout", "integer", "1000", 1, 60_000),
  new Field("redis", "keyPrefix", "string", "\"ai-token-failover:\""),
  new Field("redis", "syncInterval", "integer", "1000", 100, 60_000),
];

/** The field `key` of `object`; it must exist (the parser names only listed fields). */
export function field(object: string, key: string): Field {
  for (let i = 0; i < FIELDS.length; i++) {
    const f = FIELDS[i];
    if (f.object == object && f.key == key) return f;
  }
  throw new Error("no configuration field " + object + "." + key);
}

/** The names of the fields of `object`, for the unknown-field warnings. */
export function keysOf(object: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < FIELDS.length; i++) if (FIELDS[i].object == object) out.push(FIELDS[i].key);
  return out;
}
