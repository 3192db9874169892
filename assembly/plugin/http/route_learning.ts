// What a request's log teaches: the route's shape (so retries go where the router sent the request)
// and, from a successful inference request, where probes go. Only at log time does the request
// map hold what the router sent.
import { MapType } from "../../abi/enums";
import { getHeaderPairs } from "../../runtime/headers";
import { nowMs, routeCluster } from "../../runtime/host";
import { HeaderList } from "../../util/header_list";
import { STREAM_ORIGIN } from "../judge/answer_origin";
import { Attempt } from "../judge/attempt";
import { Plugin } from "../plugin";
import { aimsProbes, targetFromShape } from "../pool/probe";
import { RouteShape, shapeKey } from "../retry/route_shape";
import { is2xx } from "../../util/status";

// Only at log time does the request map hold what the router sent (rewritten host and path,
// route headers); learned only from a request the router did send (a later filter's local reply
// leaves the map as the client sent it).
export function learnRoute(plugin: Plugin, first: Attempt, client: ArrayBuffer, retries: bool): void {
  const failover = plugin.failover;
  const now = nowMs();
  const learnShape = retries && plugin.shapes.get(shapeKey(client), now) == null && STREAM_ORIGIN.fromProvider();
  // Probes go where a request succeeded, never where one failed: no client can aim them.
  const learnTarget = failover != null && first.succeeded && is2xx(first.status) && failover.prober.wantsTarget(now) &&
    aimsProbes(HeaderList.rawText(client, ":path")) && STREAM_ORIGIN.fromProvider();
  if (!learnShape && !learnTarget) return;
  const shape = RouteShape.derive(HeaderList.parse(client), getHeaderPairs(MapType.RequestHeaders), now);
  if (shape == null) return;
  if (learnShape) plugin.shapes.learn(shapeKey(client), shape);
  if (learnTarget) {
    const cluster = routeCluster();
    if (cluster != null) failover!.prober.recordTarget(targetFromShape(cluster, shape), now);
  }
}
