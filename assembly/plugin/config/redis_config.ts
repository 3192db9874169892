// The top-level `redis` section (Higress build): where the gateway replicas share their pool, named
// as Higress plugins name a Redis service. Pure.

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
