// Reads the top-level `redis` section (see redis_config.ts). Pure.
import { RedisConfig } from "./redis_config";
import { Validator, isPrintable } from "./config_validator";
import { JsonValue } from "../../util/json";

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
