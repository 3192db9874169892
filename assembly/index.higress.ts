// Higress entry: the standard module plus Higress's Redis host functions, through which the
// replicas of a gateway share one pool (plugin/replica/).
import { installRedisTransport, routeRedisReply } from "./runtime/redis";
import { HigressRedis } from "./higress/redis_host";
import { installReplicaLinks } from "./plugin/replica/replica_support";
import { newLink } from "./plugin/replica/replica_link";
import { enterCallback, leaveCallback } from "./runtime/collector";
import { streamCallback } from "./runtime/log";
export * from "./index";

installRedisTransport(new HigressRedis());
installReplicaLinks(newLink);

export function proxy_on_redis_call_response(rootId: u32, token: u32, status: u32, responseSize: usize): void {
  enterCallback();
  streamCallback(false);
  routeRedisReply(token, status, responseSize);
  leaveCallback();
}
