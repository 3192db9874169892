// The plugin's metrics (Envoy shows them at /stats/prometheus). Defined at configure time; the
// same name in several VMs is one shared stat. Per-token metrics carry the token fingerprint in
// their name (`ai_token_failover.token.<fingerprint>.<metric>`), which envoy.yaml's stats_tags
// turn into a `token` label; their number is bounded by the configured tokens. Pool-wide metrics
// carry the pool's name (`ai_token_failover.pool.<pool>.<metric>`, a `pool` label), so two pools
// in one process never share a series.
import { MetricType } from "../../abi/enums";
import { NO_METRIC, defineMetric, incrementMetric, readMetric, recordMetric } from "../../runtime/metrics";
import { KeyOptions } from "../config/config";
import { NO_BUDGET_LEVEL } from "./rates";

const PREFIX = "ai_token_failover.";
/** Values of the per-key state gauge: in the pool, out and tired (429, 5xx), out and dead (401, 403, a dead rule). */
export const KEY_IN: i32 = 0;
export const KEY_TIRED: i32 = 1;
export const KEY_DEAD: i32 = 2;

class TokenMetrics {
  requests: i64 = NO_METRIC;
  failures4xx: i64 = NO_METRIC;
  failures5xx: i64 = NO_METRIC;
  failuresOther: i64 = NO_METRIC;
  ejections: i64 = NO_METRIC;
  restorations: i64 = NO_METRIC;
  probesSucceeded: i64 = NO_METRIC;
  probesFailed: i64 = NO_METRIC;
  rateShare: i64 = NO_METRIC;
  limitedMs: i64 = NO_METRIC;
  budgetRequests: i64 = NO_METRIC;
  budgetTokens: i64 = NO_METRIC;
  budgetTokensOwed: i64 = NO_METRIC;
  state: i64 = NO_METRIC;

  constructor(fingerprint: string, key: KeyOptions) {
    const p = PREFIX + "token." + fingerprint + ".";
    recordMetric(defineMetric(MetricType.Gauge, p + "weight"), <u64>key.weight);
    this.rateShare = defineMetric(MetricType.Gauge, p + "rate_share_permille");
    this.limitedMs = defineMetric(MetricType.Gauge, p + "rate_limited_ms");
    this.state = defineMetric(MetricType.Gauge, p + "state");
    if (key.rpm > 0) this.budgetRequests = defineMetric(MetricType.Gauge, p + "budget_requests");
    if (key.tpm > 0) this.budgetTokens = defineMetric(MetricType.Gauge, p + "budget_tokens");
    // Gauges cannot go below zero: a bucket overdrawn by answers larger than their estimate shows here.
    if (key.tpm > 0) this.budgetTokensOwed = defineMetric(MetricType.Gauge, p + "budget_tokens_owed");
    this.requests = defineMetric(MetricType.Counter, p + "requests");
    this.failures4xx = defineMetric(MetricType.Counter, p + "failures.4xx");
    this.failures5xx = defineMetric(MetricType.Counter, p + "failures.5xx");
    this.failuresOther = defineMetric(MetricType.Counter, p + "failures.other");
    this.ejections = defineMetric(MetricType.Counter, p + "ejections");
    this.restorations = defineMetric(MetricType.Counter, p + "restorations");
    this.probesSucceeded = defineMetric(MetricType.Counter, p + "probes.succeeded");
    this.probesFailed = defineMetric(MetricType.Counter, p + "probes.failed");
  }
}

/** Counters and gauges of one configuration. */
export class PluginMetrics {
  private tokens: TokenMetrics[] = [];
  private retriesAttempted: i64 = NO_METRIC;
  private retriesSucceeded: i64 = NO_METRIC;
  private retriesExhausted: i64 = NO_METRIC;
  private tokensInPool: i64 = NO_METRIC;
  private failuresNotCounted: i64 = NO_METRIC;
  private retriesSkippedMemory: i64 = NO_METRIC;
  private ejectionsNotConfirmed: i64 = NO_METRIC;
  private providerState: i64 = NO_METRIC;
  private providerAnswers: i64 = NO_METRIC;
  private listings: i64 = NO_METRIC;
  private answersCut: i64 = NO_METRIC;
  private notificationsSent: i64 = NO_METRIC;
  private notificationsFailed: i64 = NO_METRIC;

  /** Defines every metric; configure phase. `fingerprints` are the configured tokens', `pool` names the pool. */
  define(fingerprints: string[], pool: string, keys: KeyOptions[]): void {
    for (let i = 0; i < fingerprints.length; i++) this.tokens.push(new TokenMetrics(fingerprints[i], keys[i]));
    const p = PREFIX + "pool." + pool + ".";
    this.retriesAttempted = defineMetric(MetricType.Counter, p + "retries.attempted");
    this.retriesSucceeded = defineMetric(MetricType.Counter, p + "retries.succeeded");
    this.retriesExhausted = defineMetric(MetricType.Counter, p + "retries.exhausted");
    this.tokensInPool = defineMetric(MetricType.Gauge, p + "tokens_in_pool");
    recordMetric(defineMetric(MetricType.Gauge, p + "tokens_configured"), <u64>fingerprints.length);
    this.failuresNotCounted = defineMetric(MetricType.Counter, p + "failures_not_counted");
    this.retriesSkippedMemory = defineMetric(MetricType.Counter, p + "retries_skipped_memory");
    this.ejectionsNotConfirmed = defineMetric(MetricType.Counter, p + "ejections_not_confirmed");
    this.providerState = defineMetric(MetricType.Gauge, p + "provider_state");
    this.providerAnswers = defineMetric(MetricType.Counter, p + "provider_answers");
    this.listings = defineMetric(MetricType.Counter, p + "listings");
    this.answersCut = defineMetric(MetricType.Counter, p + "answers_cut");
    this.notificationsSent = defineMetric(MetricType.Counter, p + "notifications.sent");
    this.notificationsFailed = defineMetric(MetricType.Counter, p + "notifications.failed");
  }

  request(i: i32): void { incrementMetric(this.tokens[i].requests); }

  failure(i: i32, status: i32): void {
    const t = this.tokens[i];
    incrementMetric(status >= 400 && status < 500 ? t.failures4xx : status >= 500 && status < 600 ? t.failures5xx : t.failuresOther);
  }

  /** Requests sent with key i so far, by every worker of the process. */
  requestsOf(i: i32): i64 { return <i64>readMetric(this.tokens[i].requests); }

  /** Failures counted against key i so far, by every worker of the process. */
  failuresOf(i: i32): i64 {
    const t = this.tokens[i];
    return <i64>(readMetric(t.failures4xx) + readMetric(t.failures5xx) + readMetric(t.failuresOther));
  }

  ejected(i: i32): void { incrementMetric(this.tokens[i].ejections); }
  restored(i: i32): void { incrementMetric(this.tokens[i].restorations); }
  probe(i: i32, ok: bool): void { incrementMetric(ok ? this.tokens[i].probesSucceeded : this.tokens[i].probesFailed); }
  retryAttempted(): void { incrementMetric(this.retriesAttempted); }
  retrySucceeded(): void { incrementMetric(this.retriesSucceeded); }
  retryExhausted(): void { incrementMetric(this.retriesExhausted); }
  /** A failure judged not the key's (a 5xx no other key contradicts, or one another key repeated). */
  failureNotCounted(): void { incrementMetric(this.failuresNotCounted); }
  /** A key reached failureThreshold but its probe succeeded: it stayed in the pool. */
  ejectionNotConfirmed(): void { incrementMetric(this.ejectionsNotConfirmed); }
  /** A request sent without a retry because its VM already holds maxHeldBytes of request bodies. */
  retrySkippedMemory(): void { incrementMetric(this.retriesSkippedMemory); }
  /**
   * Key i's state (KEY_IN, KEY_TIRED, KEY_DEAD), AIMD share, ms until its rate-limit reset, and its
   * shared budget (NO_BUDGET_LEVEL: none); set by the lease holder.
   */
  keyGauges(i: i32, state: i32, sharePermille: i32, limitedMs: i64, budget: i64[] | null): void {
    const t = this.tokens[i];
    recordMetric(t.state, <u64>state);
    recordMetric(t.rateShare, <u64>sharePermille);
    recordMetric(t.limitedMs, <u64>max<i64>(0, limitedMs));
    if (budget != null && budget[0] != NO_BUDGET_LEVEL) recordMetric(t.budgetRequests, <u64>max<i64>(0, budget[0]));
    if (budget != null && budget[1] != NO_BUDGET_LEVEL) {
      recordMetric(t.budgetTokens, <u64>max<i64>(0, budget[1]));
      recordMetric(t.budgetTokensOwed, <u64>max<i64>(0, -budget[1]));
    }
  }

  /** The provider's state (ProviderHealth: 0 ok, 1 limited, 2 failing); set by the VM that changes it and by the lease holder. */
  providerHealth(health: i32): void { recordMetric(this.providerState, <u64>health); }
  /** The plugin answered a client in the provider's place (the provider is limited or failing, paced). */
  providerAnswered(): void { incrementMetric(this.providerAnswers); }
  /** A listing (a model list) went out with a key of the pool. */
  listing(): void { incrementMetric(this.listings); }
  /** The upstream cut an answer after its headers (a reset, a closed connection): the client's answer is truncated. */
  answerCut(): void { incrementMetric(this.answersCut); }
  /** A notification reached the operator's endpoint, or was given up after its attempts. */
  notification(sent: bool): void { incrementMetric(sent ? this.notificationsSent : this.notificationsFailed); }

  /** Tokens in the pool; set by the lease holder on each tick and by any VM that moves a token. */
  inPool(n: i32): void { recordMetric(this.tokensInPool, <u64>n); }
}

/** A pool's metric label: plugin name, provider type and id (dots would split the stat name). */
export function poolLabel(pluginName: string, type: string, id: string, poolName: string = ""): string {
  const label = pluginName + ":" + type + (id.length > 0 ? ":" + id : "") + (poolName.length > 0 ? ":" + poolName : "");
  return label.replaceAll(".", "_");
}
