// This VM's link to the other gateway replicas through Redis. Any VM sends the key changes it
// makes at once; the process's lease holder syncs on its tick: it sends its out keys and limits
// again, heartbeats, takes or renews the replicas' probe lease, asks for budget grants, and takes
// on what the others changed. Requests never wait for Redis: they read the shared-data record,
// which the sync keeps up to date. When Redis fails, the process serves from its own state.
import { LogLevel, MetricType, Status } from "../../abi/enums";
import { nowMs, randomU64 } from "../../runtime/host";
import { log, logEnabled } from "../../runtime/log";
import { defineMetric, recordMetric } from "../../runtime/metrics";
import { RedisHandler, redisCall } from "../../runtime/redis";
import { CasOutcome, sharedOnce } from "../../runtime/shared_data";
import { readLinkRecord, recordLink } from "./link_record";
import { RespKind, RespValue, encodeCommand } from "../../util/resp";
import { fingerprint } from "../../util/fingerprint";
import { RedisConfig } from "../config/redis_config";
import { Budgets } from "../budget/budget";
import { FeedStart, budgetAsks, feedBudgets } from "./budget_feed";
import { Failover } from "../pool/failover";
import { KeyEvent, SharedPool } from "../pool/pool_events";
import { PluginMetrics } from "../base/metrics";
import { AdoptShared, SharedKey, SyncReply, readSyncReply } from "./sync_reply";
import { BudgetAsk, DayReport, PoolKeys, scriptArgs } from "./sync_script";
import { adoptDayTotals, dayReports, daysAlone } from "./daily_feed";

export class ReplicaLink extends SharedPool {
  private readonly cluster: string;
  private readonly keys: PoolKeys;
  /** This process's name among the replicas (the same in every VM of the process). */
  readonly replica: string;
  private readonly linkKey: ArrayBuffer;
  private readonly linkGauge: i64;
  private readonly replicasGauge: i64;
  /** This VM's last sync: answered at all, Redis reachable, this process holds the probe lease. */
  private known: bool = false;
  private up: bool = false;
  private holdsLease: bool = false;
  liveReplicas: i32 = 1;
  /** How the sync in flight relates to the link's history (see FeedStart). */
  private start: FeedStart = FeedStart.Running;
  private syncSentAt: i64 = 0;
  private syncing: bool = false;
  /** The version of each key's shared state this VM took on last. */
  private applied: Map<u64, i64> = new Map();

  constructor(private cfg: RedisConfig, pool: string, localPrefix: string, metricPool: string,
              private failover: Failover, private budgets: Budgets | null, private metrics: PluginMetrics) {
    super();
    this.cluster = cfg.cluster();
    this.keys = new PoolKeys(cfg.keyPrefix, pool);
    // This process's name among the replicas: a random one, the same in every VM of the process.
    this.replica = sharedOnce(localPrefix + ":replica", randomU64().toString(16));
    this.linkKey = String.UTF8.encode(localPrefix + ":redis-link");
    const p = "ai_token_failover.pool." + metricPool + ".";
    this.linkGauge = defineMetric(MetricType.Gauge, p + "redis_link_up");
    this.replicasGauge = defineMetric(MetricType.Gauge, p + "replicas");
  }

  worksHere(): bool { return this.known && (!this.up || this.holdsLease); }

  statusJson(now: i64): string {
    const link = readLinkRecord(this.linkKey);
    return link != null ? link.json(now) : "{\"link\":\"unknown\"}";
  }

  publish(events: KeyEvent[]): void {
    if (events.length == 0) return;
    const args = scriptArgs(this.keys, this.cfg.database, nowMs(), false, this.replica, this.cfg.syncInterval, events, [], []);
    redisCall(this.cluster, encodeCommand(args), new IgnoreReply());
  }

  get syncInterval(): i32 { return this.cfg.syncInterval; }

  /** The lease holder's sync (one in flight at a time; a command the host never answered is given up after its timeout twice). */
  sync(now: i64): void {
    if (this.syncing && now - this.syncSentAt < <i64>this.cfg.timeout * 2 + <i64>this.cfg.syncInterval) return;
    const f = this.failover;
    f.store.refresh();
    const events: KeyEvent[] = [];
    for (let i = 0; i < f.store.ids.length; i++) {
      const t = f.store.token(i);
      if (t == null) continue;
      if (!t.isIn(now)) events.push(new KeyEvent("o", t.id, t.outSince, t.returnsAt, t.lastStatus));
      if (t.isLimited(now)) events.push(new KeyEvent("l", t.id, 0, t.limitedUntil, 0));
    }
    const budgets = this.budgets;
    const link = readLinkRecord(this.linkKey);
    this.start = link == null ? FeedStart.Joining : link.up ? FeedStart.Running : FeedStart.Recovering;
    const downFor = link != null && !link.up ? max<i64>(0, now - link.since) : 0;
    const asks: BudgetAsk[] = budgets != null ? budgetAsks(budgets, f.store.factors, now, this.start, downFor) : [];
    const days = budgets != null ? dayReports(budgets.daily, now) : [];
    const args = scriptArgs(this.keys, this.cfg.database, now, true, this.replica, this.cfg.syncInterval, events, days, asks);
    const status = redisCall(this.cluster, encodeCommand(args), new SyncHandler(this, days));
    if (status != Status.Ok) {
      this.failed("the gateway refused the command (status " + (<i32>status).toString() + ")");
      return;
    }
    this.syncing = true;
    this.syncSentAt = now;
  }

  /** The answer to a sync that reported `days`. */
  onSyncReply(reply: RespValue | null, days: DayReport[]): void {
    this.syncing = false;
    if (reply == null) { this.failed("no answer (connection failed or timed out)"); return; }
    if (reply.kind == RespKind.Error) { this.failed("Redis answered " + reply.text.substring(0, 120)); return; }
    const sync = readSyncReply(reply);
    if (sync == null) { this.failed("an answer that is not the script's"); return; }
    this.adopt(sync, days);
  }

  private adopt(sync: SyncReply, days: DayReport[]): void {
    const now = nowMs();
    const f = this.failover;
    this.holdsLease = sync.holdsLease;
    this.liveReplicas = sync.liveReplicas;
    const changed: SharedKey[] = [];
    for (let k = 0; k < sync.keys.length; k++) {
      const c = sync.keys[k];
      if (!this.applied.has(c.id) || this.applied.get(c.id) < c.version) changed.push(c);
    }
    if (changed.length > 0) {
      const change = new AdoptShared(changed, now);
      const outcome = f.store.update(change);
      if (outcome != CasOutcome.Lost) for (let k = 0; k < changed.length; k++) this.applied.set(changed[k].id, changed[k].version);
      if (outcome == CasOutcome.Stored) this.logAdopted(change);
    }
    const budgets = this.budgets;
    // Redis counted what it granted: a lost write only leaves credit unused.
    if (budgets != null) {
      feedBudgets(budgets, f.store.factors, sync.grants, sync.liveReplicas, true, this.start == FeedStart.Joining, now);
      adoptDayTotals(budgets.daily, sync.days, days, sync.liveReplicas, now);
    }
    this.setLink(true, "", now);
  }

  private logAdopted(change: AdoptShared): void {
    const f = this.failover;
    this.metrics.inPool(f.store.inPoolCount);
    if (!logEnabled(LogLevel.Info)) return;
    for (let k = 0; k < change.tookOut.length; k++) {
      log(LogLevel.Info, "token " + this.name(change.tookOut[k]) + " out of the pool: another replica took it out");
    }
    for (let k = 0; k < change.putBack.length; k++) {
      log(LogLevel.Info, "token " + this.name(change.putBack[k]) + " back in the pool: another replica brought it back");
    }
  }

  private name(id: u64): string {
    return fingerprint(this.failover.store.ids.indexOf(id), id);
  }

  private failed(reason: string): void {
    this.syncing = false;
    this.holdsLease = false;
    // Redis may come back empty (a restart): every shared state is taken on again then.
    this.applied.clear();
    const budgets = this.budgets;
    const now = nowMs();
    if (budgets != null) {
      feedBudgets(budgets, this.failover.store.factors, [], this.liveReplicas, false, false, now);
      daysAlone(budgets.daily, this.liveReplicas, now);
    }
    this.setLink(false, reason, now);
  }

  // One line per process for each change of the link: the VM whose write flips the shared record says it.
  private setLink(up: bool, reason: string, now: i64): void {
    this.known = true;
    this.up = up;
    recordMetric(this.linkGauge, up ? 1 : 0);
    recordMetric(this.replicasGauge, <u64>this.liveReplicas);
    const flip = recordLink(this.linkKey, up, this.liveReplicas, this.holdsLease, now);
    if (!flip.flipped || !logEnabled(up ? LogLevel.Info : LogLevel.Warn)) return;
    const share = this.liveReplicas.toString();
    if (!up) {
      log(LogLevel.Warn, "Redis " + this.cluster + " unreachable: " + reason + "; serving from this process's pool state, budgets at 1/" +
        share + " of each limit, until it answers again");
    } else if (flip.first) {
      log(LogLevel.Info, "sharing the pool through Redis " + this.cluster + " with " + share + " live replica(s)");
    } else {
      log(LogLevel.Info, "Redis " + this.cluster + " reachable again: pool shared with " + share + " live replica(s)");
    }
  }
}

class SyncHandler extends RedisHandler {
  constructor(private link: ReplicaLink, private days: DayReport[]) { super(); }
  onReply(reply: RespValue | null): void { this.link.onSyncReply(reply, this.days); }
}

// A published change needs no answer: the next sync sends out keys and limits again.
class IgnoreReply extends RedisHandler {
  onReply(reply: RespValue | null): void {}
}

/** The link factory the Higress entry installs. */
export function newLink(cfg: RedisConfig, pool: string, localPrefix: string, metricPool: string,
                        failover: Failover, budgets: Budgets | null, metrics: PluginMetrics): SharedPool {
  return new ReplicaLink(cfg, pool, localPrefix, metricPool, failover, budgets, metrics);
}
