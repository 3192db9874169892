// Sharing the pool with other gateway replicas exists in the Higress build only: its entry
// installs the link (index.higress.ts), so the standard build carries none of it.
import { Status } from "../../abi/enums";
import { redisAvailable, redisInit } from "../../runtime/redis";
import { RedisConfig } from "../config/redis_config";
import { Budgets } from "../budget/budget";
import { Failover } from "../pool/failover";
import { SharedPool } from "../pool/pool_events";
import { PluginMetrics } from "../base/metrics";

/** Builds one configuration's link in one VM: pool name in Redis, local shared-data prefix, metric label. */
export type LinkFactory = (cfg: RedisConfig, pool: string, localPrefix: string, metricPool: string,
  failover: Failover, budgets: Budgets | null, metrics: PluginMetrics) => SharedPool;

let factory: LinkFactory | null = null;

export function installReplicaLinks(f: LinkFactory): void { factory = f; }

/** The link for a configuration with `redis` (null in a build without one: the configuration was refused). */
export function newReplicaLink(cfg: RedisConfig, pool: string, localPrefix: string, metricPool: string,
                               failover: Failover, budgets: Budgets | null, metrics: PluginMetrics): SharedPool | null {
  const f = factory;
  return f != null ? f(cfg, pool, localPrefix, metricPool, failover, budgets, metrics) : null;
}

/** Why Redis cannot be used with this configuration ("" when it can); each VM prepares its client here. */
export function prepareRedis(r: RedisConfig): string {
  if (!redisAvailable() || factory == null) {
    return "redis needs the Higress build (plugin.higress.wasm): this module has no Redis host functions";
  }
  const status = redisInit(r.cluster(), r.username, r.password, <u32>r.timeout);
  if (status == Status.BadArgument) {
    return "redis.serviceName: the gateway has no cluster " + r.cluster() + " (check serviceName and servicePort)";
  }
  // InternalFailure: the cluster has no host yet; the link stays down until it has one.
  if (status != Status.Ok && status != Status.InternalFailure) return "redis: the gateway refused to set up its client (status " + (<i32>status).toString() + ")";
  return "";
}
