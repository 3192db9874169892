// The top-level `redis` section (Higress build): where the gateway replicas share their pool, named
// as Higress plugins name a Redis service. Pure.
import { Validator, isPrintable } from "./config_validator";
import { JsonValue } from "../../util/json";

export class RedisConfig {
  /** The Higress service, such as `redis.dns` (DNS), `redis.static` or `redis.default.svc.cluster.local`. */
  serviceName: string = "";
  /** 6379, or 80 for a `.static` service as Higress registers static addresses. */
  servicePort: i32 = 6379;
  username: string = "";
  password: string = "";
  /** Selected inside each script, so the gateway's shared connection keeps its database. */
  database: i32 = 0;
  /** Per command (ms): a command not answered by then fails, with every other in flight on its connection. */
  timeout: i32 = 1000;
  /** Put before every Redis key of this plugin. */
  keyPrefix: string = "ai-token-failover:";
  /** How often each process's lease holder reads and writes the shared state (ms). */
  syncInterval: i32 = 1000;

  /** The Envoy cluster Higress builds for the service: `outbound|<port>||<serviceName>`. */
  cluster(): string {
    return "outbound|" + this.servicePort.toString() + "||" + this.serviceName;
  }
}

/** Reads `redis` from the configuration's root object; null when it is absent. */
export function parseRedis(val: Validator, root: JsonValue): RedisConfig | null {
  const obj = val.object(root.get("redis"), "redis");
  if (obj == null) return null;
  val.warnUnknown(obj, "redis.", ["serviceName", "servicePort", "username", "password", "database", "timeout", "keyPrefix", "syncInterval"]);
  const r = new RedisConfig();
  r.serviceName = val.string(obj, "serviceName", "redis.serviceName", "");
  if (val.ok() && (r.serviceName.length == 0 || r.serviceName.includes("|") || !isPrintable(r.serviceName))) {
    val.fail("redis.serviceName", "is required: the Redis service as Higress names it, such as redis.dns or redis.default.svc.cluster.local");
  }
  const defaultPort = r.serviceName.endsWith(".static") ? 80 : 6379;
  r.servicePort = val.integer(obj, "servicePort", "redis.servicePort", defaultPort, 1, 65535);
  r.username = val.string(obj, "username", "redis.username", "");
  r.password = val.string(obj, "password", "redis.password", "");
  r.database = val.integer(obj, "database", "redis.database", 0, 0, 1000);
  r.timeout = val.integer(obj, "timeout", "redis.timeout", 1000, 1, 60_000);
  r.keyPrefix = val.string(obj, "keyPrefix", "redis.keyPrefix", "ai-token-failover:");
  if (val.ok() && !isPrintable(r.keyPrefix)) val.fail("redis.keyPrefix", "must not contain spaces or control characters");
  r.syncInterval = val.integer(obj, "syncInterval", "redis.syncInterval", 1000, 100, 60_000);
  return val.ok() ? r : null;
}
