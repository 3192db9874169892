// Reads the top-level `redis` section (see redis_config.ts). Pure.
import { RedisConfig } from "./redis_config";
import { Validator, isPrintable } from "./config_validator";
import { JsonValue } from "../../util/json";
import { field } from "./schema";

const REDIS = "redis";

/** Reads `redis` from the configuration's root object; null when it is absent. */
export function parseRedis(val: Validator, root: JsonValue): RedisConfig | null {
  const obj = val.object(root.get("redis"), "redis");
  if (obj == null) return null;
  const p = "redis.";
  val.known(obj, p, REDIS);
  const r = new RedisConfig();
  r.serviceName = val.text(obj, p, field(REDIS, "serviceName"));
  if (val.ok() && (r.serviceName.length == 0 || r.serviceName.includes("|") || !isPrintable(r.serviceName))) {
    val.fail("redis.serviceName", "is required: the Redis service as Higress names it, such as redis.dns or redis.default.svc.cluster.local");
  }
  // A Higress static service listens on 80 unless told otherwise.
  const port = field(REDIS, "servicePort");
  r.servicePort = r.serviceName.endsWith(".static") && obj.get("servicePort") == null ? 80 : val.int(obj, p, port);
  r.username = val.text(obj, p, field(REDIS, "username"));
  r.password = val.text(obj, p, field(REDIS, "password"));
  r.database = val.int(obj, p, field(REDIS, "database"));
  r.timeout = val.int(obj, p, field(REDIS, "timeout"));
  r.keyPrefix = val.text(obj, p, field(REDIS, "keyPrefix"));
  if (val.ok() && !isPrintable(r.keyPrefix)) val.fail("redis.keyPrefix", "must not contain spaces or control characters");
  r.syncInterval = val.int(obj, p, field(REDIS, "syncInterval"));
  return val.ok() ? r : null;
}
