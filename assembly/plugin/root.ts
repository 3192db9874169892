// The plugin's root context: configuration, the failover coordinator, ticks and call answers.
import { BufferType, LogLevel, Status } from "../abi/enums";
import { getShared, setShared } from "../runtime/shared_data";
import { getBufferBytes } from "../runtime/buffers";
import { RootContext, StreamContext, findStream } from "../runtime/contexts";
import { getProperty, nowMs, randomU64, setEffectiveContext, setTickPeriod } from "../runtime/host";
import { BODY_WAIT_TICK_MS, BodyWait } from "./body_wait";
import { logEnabled, logError, logWarn } from "../runtime/log";
import { PluginConfig, parseConfig } from "./config";
import { EncodedCredentials } from "./credentials";
import { Failover, poolKeyPrefix } from "./failover";
import { fingerprint, hash64 } from "./fingerprint";
import { TokenFilter } from "./filter";
import { CREATE_ONLY_CAS, Lease, readLease } from "./lease";
import { PluginMetrics, poolLabel } from "./metrics";
import { TokenState } from "./pool_state";
import { Random } from "./random";
import { Budgets } from "./budget";
import { KeyChooser } from "./key_choice";
import { Headroom, RateLimitHeaders } from "./rate_limit";
import { RouteShapes } from "./route_shape";
import { HeldBodies } from "./retry";
import { renderStatus } from "./status_page";
import { rulesNeedBody, rulesNeedHeaders } from "./verdict";

/**
 * Whether this VM is the first of the process to see this configuration text: it claims a
 * shared-data key named by the text's hash with a create-only write, which only one VM wins.
 */
function firstToConfigure(text: string): bool {
  const key = String.UTF8.encode("ai-token-failover:configured:" + hash64(text).toString(16));
  if (getShared(key) != null) return false;
  return setShared(key, String.UTF8.encode("1"), CREATE_ONLY_CAS) == Status.Ok;
}

/** Root context of one plugin configuration in one VM. */
export class PluginRoot extends RootContext {
  config: PluginConfig | null = null;
  failover: Failover | null = null;
  /** Credential header values, encoded once. */
  credentials: EncodedCredentials | null = null;
  /** Fingerprint of each configured token. */
  fingerprints: string[] = [];
  /** Whether judging a response needs all its headers (a failure rule tests headers). */
  failureRulesNeedHeaders: bool = false;
  /** Whether a failure rule reads bodies: answers are then asked for uncompressed. */
  failureRulesNeedBody: bool = false;
  random: Random = new Random(randomU64());
  metrics: PluginMetrics = new PluginMetrics();
  /** What the routes this VM has seen do to requests, for replays. */
  shapes: RouteShapes = new RouteShapes();
  /** Chooses among eligible keys by model and weight. */
  chooser: KeyChooser | null = null;
  /** Every configured index: the candidates when failover is off. */
  allKeys: i32[] = [];
  /** Per-key rpm/tpm budgets, when any key has one. */
  budgets: Budgets | null = null;
  /** Each key's headroom from the provider's headers, as this VM saw it. */
  headroom: Headroom = new Headroom(0);
  /** The provider's rate-limit header names. */
  rateLimit: RateLimitHeaders = RateLimitHeaders.forType("openai");
  /** Whether Envoy shows held request bodies, and the requests waiting to find out. */
  bodyWait: BodyWait = new BodyWait("ai-token-failover");
  /** Tick period in force (ms; 0: none). */
  private tickPeriod: u32 = 0;
  /** When the failover's background work runs next (ms). */
  private nextFailoverTick: i64 = 0;
  /** Request bodies this VM holds for retries, bounded by retryOnFailure.maxHeldBytes. */
  heldBodies: HeldBodies = new HeldBodies(0);

  onConfigure(configSize: usize): bool {
    const bytes = getBufferBytes(BufferType.PluginConfiguration, 0, configSize);
    const text = bytes == null ? "" : String.UTF8.decode(bytes);
    const result = parseConfig(text);
    // Every worker VM parses the same configuration: only the first to claim it logs about it.
    const speaks = (result.warnings.length > 0 || result.config == null) && firstToConfigure(text);
    if (speaks && logEnabled(LogLevel.Warn)) {
      for (let i = 0; i < result.warnings.length; i++) logWarn(result.warnings[i]);
    }
    const cfg = result.config;
    if (cfg == null) {
      if (speaks) logError("invalid config: " + result.error);
      return false;
    }
    this.config = cfg;
    this.heldBodies = new HeldBodies(<i64>cfg.retry.maxHeldBytes);
    const ids = new Array<u64>(cfg.apiTokens.length);
    const fingerprints = new Array<string>(cfg.apiTokens.length);
    for (let i = 0; i < ids.length; i++) {
      ids[i] = hash64(cfg.apiTokens[i]);
      fingerprints[i] = fingerprint(i, ids[i]);
    }
    this.fingerprints = fingerprints;
    this.credentials = new EncodedCredentials(cfg);
    this.chooser = new KeyChooser(cfg);
    this.allKeys = new Array<i32>(cfg.apiTokens.length);
    for (let i = 0; i < cfg.apiTokens.length; i++) this.allKeys[i] = i;
    this.rateLimit = RateLimitHeaders.forType(cfg.providerType);
    this.headroom = new Headroom(cfg.apiTokens.length);
    const pluginName = getProperty("plugin_name");
    const name = pluginName != null && pluginName.length > 0 ? pluginName : "ai-token-failover";
    this.metrics.define(fingerprints, poolLabel(name, cfg.providerType, cfg.providerId), cfg.keys);
    const prefix = poolKeyPrefix(name, cfg);
    this.shapes.sharedPrefix = prefix + ":shape:";
    // Every configuration of the process behind the same filter learns it together.
    this.bodyWait = new BodyWait("ai-token-failover:" + name);
    const budgets = new Budgets(prefix, cfg.keys, ids);
    this.budgets = budgets.active ? budgets : null;
    this.failover = null;
    if (cfg.failover.enabled) {
      const holder = this.random.next().toString(16) + ":" + this.id.toString();
      const failover = new Failover(cfg, this.metrics, ids, prefix, holder, nowMs());
      failover.budgets = this.budgets;
      failover.start();
      this.failover = failover;
      this.failureRulesNeedHeaders = rulesNeedHeaders(cfg.failover.failureConditions);
      this.failureRulesNeedBody = rulesNeedBody(cfg.failover.failureConditions);
    }
    this.updateTicks();
    return true;
  }

  onTick(): void {
    const now = nowMs();
    if (this.bodyWait.waiting) this.releaseWithoutBody(now);
    const f = this.failover;
    // Fast ticks while a request waits for its body do not make the background work run faster.
    if (f != null && now + <i64>BODY_WAIT_TICK_MS >= this.nextFailoverTick) {
      this.nextFailoverTick = now + <i64>this.config!.failover.healthCheckInterval;
      f.onTick(this.random);
    }
    this.updateTicks();
  }

  /**
   * Ticks fast while a request waits for its body, at healthCheckInterval for failover, else not
   * at all. Called from stream `from` (0: this root's own callback), which is effective again after.
   */
  updateTicks(from: u32 = 0): void {
    const cfg = this.config;
    const slow: u32 = cfg != null && cfg.failover.enabled ? <u32>cfg.failover.healthCheckInterval : 0;
    const period = this.bodyWait.waiting && (slow == 0 || slow > BODY_WAIT_TICK_MS) ? BODY_WAIT_TICK_MS : slow;
    if (period == this.tickPeriod) return;
    this.tickPeriod = period;
    // The tick belongs to the root context: set it with the root effective.
    if (from != 0) setEffectiveContext(this.id);
    setTickPeriod(period);
    if (from != 0) setEffectiveContext(from);
  }

  // Held requests whose body Envoy did not show in time go on without it; one VM of the process says why.
  private releaseWithoutBody(now: i64): void {
    const ids = this.bodyWait.expired(now);
    if (ids.length == 0) return;
    if (this.bodyWait.claimHidden() && logEnabled(LogLevel.Warn)) {
      logWarn("Envoy does not pass request bodies to this filter while it holds the headers: set " +
        "allow_on_headers_stop_iteration: true on the envoy.filters.http.wasm filter; until then model lists " +
        "and tpm apply without the request body (see the README, Envoy options)");
    }
    for (let k = 0; k < ids.length; k++) {
      const stream = findStream(ids[k]);
      if (stream == null || !setEffectiveContext(ids[k])) continue;
      changetype<TokenFilter>(stream).goOnWithoutBody();
    }
    setEffectiveContext(this.id);
  }

  /** The status endpoint's document: one pool read, one lease read, one budget read. */
  statusDocument(): string {
    const cfg = this.config!;
    const states = new Array<TokenState | null>(cfg.apiTokens.length);
    const f = this.failover;
    let lease: Lease | null = null;
    let me = "";
    if (f != null) {
      f.store.refresh();
      for (let i = 0; i < states.length; i++) states[i] = f.store.token(i);
      lease = readLease(f.leaseKey);
      me = f.holderId;
    }
    const now = nowMs();
    const budgets = this.budgets;
    const levels = budgets != null ? budgets.snapshot(now, f != null ? f.store.factors : null) : null;
    return renderStatus(cfg, this.fingerprints, states, levels, lease, me, now);
  }

  createStream(id: u32): StreamContext {
    return new TokenFilter(id, this);
  }
}
