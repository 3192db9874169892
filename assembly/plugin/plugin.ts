// One configuration of the plugin in one VM, built once from the parsed configuration: what every
// stream of that configuration uses. A reconfiguration builds a new Plugin; a stream keeps the one
// it was created with, so one request never sees two configurations.
import { nowMs, randomU64 } from "../runtime/host";
import { BodyWait } from "./streams/body_wait";
import { Budgets, budgetsOf } from "./budget/budget";
import { budgetLevels } from "./budget/budget_levels";
import { PluginConfig } from "./config/config";
import { EncodedCredentials } from "./keys/credential_headers";
import { Failover, poolKeyPrefix } from "./pool/failover";
import { fingerprint, hash64 } from "../util/fingerprint";
import { KeyChooser } from "./keys/key_choice";
import { BodyReader } from "./keys/request_body";
import { Notifier } from "./pool/notifier";
import { KeySelector } from "./keys/key_selector";
import { AdmissionQueue } from "./queue/admission_queue";
import { QueueMetrics } from "./queue/queue_metrics";
import { Lease } from "./pool/lease";
import { readLease } from "./pool/lease_store";
import { PluginMetrics, poolLabel } from "./base/metrics";
import { TokenState } from "./pool/pool_state";
import { Random } from "../util/random";
import { Headroom, RateLimitHeaders } from "./budget/rate_limit";
import { HeldBodies } from "./streams/held_bodies";
import { RouteShapes } from "./route/route_shapes";
import { poolSummary, renderStatus } from "./view/status_page";
import { rulesNeedBody, rulesNeedHeaders } from "./judge/verdict";
import { newReplicaLink } from "./replica/replica_support";
import { SharedPool } from "./pool/pool_events";
import { TriedKeys } from "./streams/tried_keys";
import { ServedKey } from "./streams/served_key";
import { TrafficWindow } from "./base/traffic_window";
import { sharedOnce } from "../runtime/shared_data";

/** What a stream may ask of its root context: ticks fast while a request waits for its body. */
export abstract class TickControl {
  /** Recomputes the root's tick period; called from stream `from`, which is effective again after. */
  abstract update(from: u32): void;
}

export class Plugin {
  readonly config: PluginConfig;
  /** Null when failover is off. */
  readonly failover: Failover | null;
  /** Credential header values, encoded once. */
  readonly credentials: EncodedCredentials;
  /** Fingerprint of each configured token. */
  readonly fingerprints: string[];
  /** Names the key that served each request, where the operator asked for it. */
  readonly servedKey: ServedKey;
  /** Whether judging a response needs all its headers (a failure rule tests headers). */
  readonly failureRulesNeedHeaders: bool;
  /** Whether a failure rule reads bodies: answers are then asked for uncompressed. */
  readonly failureRulesNeedBody: bool;
  readonly random: Random;
  readonly metrics: PluginMetrics;
  /** Per key, requests and counted failures over the last minute, for the status document. */
  readonly traffic: TrafficWindow;
  /** What the routes this VM has seen do to requests, for replays. */
  readonly shapes: RouteShapes;
  /** Chooses among eligible keys by model and weight. */
  readonly chooser: KeyChooser;
  /** Every configured index: the candidates when failover is off. */
  readonly allKeys: i32[];
  /** Per-key rpm/tpm budgets, when any key has one. */
  readonly budgets: Budgets | null;
  /** Each key's headroom from the provider's headers, as this VM saw it. */
  readonly headroom: Headroom;
  /** The provider's rate-limit header names. */
  readonly rateLimit: RateLimitHeaders;
  /** Whether Envoy shows held request bodies, and the requests waiting to find out. */
  readonly bodyWait: BodyWait;
  /** Request bodies this VM holds for retries, bounded by retryOnFailure.maxHeldBytes. */
  readonly heldBodies: HeldBodies;
  /** Chooses the key of every attempt. */
  readonly selector: KeySelector;
  /** Requests waiting for a key (null: the queue is off). */
  readonly queue: AdmissionQueue | null;
  /** The key depends on the request body: some key has a model list, or a token budget counts its size. */
  readonly choosesByBody: bool;
  /** Reads request bodies: model, stream, size and the consumer at affinity.bodyField. */
  readonly bodyReader: BodyReader;
  /** The other gateway replicas sharing the pool through Redis (null: none). */
  readonly replica: SharedPool | null;
  /** The keys each request's attempts used (the upstream placement). */
  readonly triedKeys: TriedKeys = new TriedKeys();
  /** The process's secret that marks its probes to its upstream-filter instances ("" downstream). */
  readonly probeMark: string;

  /** `name`: the plugin's name in Envoy; `rootId`: the root context (part of the lease holder's id). */
  /** Its pool's metric label. */
  readonly pool: string;
  /** Which of the root's Higress rules it serves (-1: the global configuration). */
  rule: i32 = -1;
  /** Every Plugin of its root context, itself included (set once the root has made them all). */
  siblings: Plugin[] = [];

  constructor(cfg: PluginConfig, name: string, rootId: u32, readonly ticks: TickControl) {
    const n = cfg.apiTokens.length;
    const ids = new Array<u64>(n);
    const fingerprints = new Array<string>(n);
    const allKeys = new Array<i32>(n);
    for (let i = 0; i < n; i++) {
      ids[i] = hash64(cfg.apiTokens[i]);
      fingerprints[i] = fingerprint(i, ids[i]);
      allKeys[i] = i;
    }
    const prefix = poolKeyPrefix(name, cfg);
    const pool = poolLabel(name, cfg.providerType, cfg.providerId, cfg.poolName);
    const budgets = budgetsOf(prefix, cfg, ids);
    const activeBudgets = budgets.active ? budgets : null;
    const random = new Random(randomU64());
    // This root context's identity in the shared records it writes (the probe lease, the queue).
    const tag = random.next().toString(16) + ":" + rootId.toString();
    const metrics = new PluginMetrics();
    metrics.define(fingerprints, pool, cfg.keys);
    const shapes = new RouteShapes();
    shapes.sharedPrefix = prefix + ":shape:";
    let failover: Failover | null = null;
    let replica: SharedPool | null = null;
    // A secret of the process: every VM marks its probes with the same one.
    const probeMark = cfg.upstreamFilter ? sharedOnce(prefix + ":probe-mark", randomU64().toString(16) + randomU64().toString(16)) : "";
    this.probeMark = probeMark;
    if (cfg.failover.enabled) {
      failover = new Failover(cfg, metrics, ids, prefix, tag, nowMs(), activeBudgets);
      failover.prober.probeMark = probeMark;
      if (cfg.notify.enabled) failover.notifier = new Notifier(cfg.notify, pool, fingerprints, metrics);
      failover.start();
      const redis = cfg.redis;
      if (redis != null) {
        replica = newReplicaLink(redis, prefix.substring("ai-token-failover:".length), prefix, pool, failover, activeBudgets, metrics);
        if (replica != null) failover.shareWith(replica);
      }
    }
    this.config = cfg;
    this.pool = pool;
    this.replica = replica;
    this.random = random;
    this.metrics = metrics;
    this.traffic = new TrafficWindow(metrics, n, nowMs());
    this.shapes = shapes;
    this.failover = failover;
    this.allKeys = allKeys;
    this.fingerprints = fingerprints;
    this.servedKey = new ServedKey(cfg, fingerprints);
    this.credentials = new EncodedCredentials(cfg);
    const chooser = new KeyChooser(cfg);
    const headroom = new Headroom(n);
    this.selector = new KeySelector(cfg, chooser, random, allKeys, headroom, failover, activeBudgets);
    this.queue = cfg.queue.enabled ? new AdmissionQueue(cfg.queue, prefix, tag, new QueueMetrics(pool)) : null;
    this.chooser = chooser;
    this.rateLimit = RateLimitHeaders.forType(cfg.providerType);
    this.headroom = headroom;
    this.heldBodies = new HeldBodies(<i64>cfg.retry.maxHeldBytes);
    // Every configuration of the process behind the same filter learns it together.
    this.bodyWait = new BodyWait("ai-token-failover:" + name);
    this.budgets = activeBudgets;
    this.choosesByBody = chooser.byModel || (activeBudgets != null && activeBudgets.countsTokens);
    this.bodyReader = new BodyReader(cfg.affinityBodyField);
    this.failureRulesNeedHeaders = failover != null && rulesNeedHeaders(cfg.failover.failureConditions);
    this.failureRulesNeedBody = failover != null && rulesNeedBody(cfg.failover.failureConditions);
    this.siblings.push(this);
  }

  /** The status endpoint's document: one pool read, one lease read, one budget read (and the replica link's, with Redis). */
  statusDocument(): string {
    const cfg = this.config;
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
    this.traffic.sampleIfDue(now);
    const budgets = this.budgets;
    const levels = budgets != null ? budgetLevels(budgets, now, f != null ? f.store.factors : null) : null;
    const queue = this.queue;
    const replica = this.replica;
    return renderStatus(cfg, this.fingerprints, states, levels, lease, me, now, queue != null ? queue.totals(now) : null,
      replica != null ? replica.statusJson(now) : "null", this.traffic.counts(now), f != null ? f.store.provider : null,
      this.poolsSummary(now));
  }

  /** Every pool of this Plugin's root context (the global configuration's and each rule's), one line each. */
  private poolsSummary(now: i64): string {
    const parts = new Array<string>(this.siblings.length);
    for (let i = 0; i < this.siblings.length; i++) {
      const p = this.siblings[i];
      const f = p.failover;
      if (f != null) f.store.refresh();
      parts[i] = poolSummary(p.pool, p.rule, p.config.apiTokens.length, f != null ? f.store.inPoolCount : p.config.apiTokens.length,
        f != null ? f.store.provider : null, now, p == this);
    }
    return "[" + parts.join(",") + "]";
  }
}
