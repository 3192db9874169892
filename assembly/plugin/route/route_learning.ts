// What a request's log teaches: the route's shape (so retries go where the router sent the request)
// and, from a successful inference request, where probes go. Only at log time does the request
// map hold what the router sent.
import { MapType } from "../../abi/enums";
import { getHeaderPairs } from "../../runtime/headers";
import { nowMs, routeCluster } from "../../runtime/host";
import { HeaderList } from "../../util/header_list";
import { STREAM_ORIGIN } from "../judge/answer_origin";
import { Prober } from "../pool/prober";
import { aimsProbes, targetFromRoute } from "../pool/probe";
import { RouteShape, shapeKey } from "./route_shape";
import { RouteShapes } from "./route_shapes";

// Only at log time does the request map hold what the router sent (rewritten host and path,
// route headers); learned only from a request the router did send (a later filter's local reply
// leaves the map as the client sent it).
// `client`: the request's headers as the client sent them; `retries`: its shape is wanted for
// retries; `served`: its answer was a 2xx success of its key; `prober`: null without failover.
export function learnRoute(shapes: RouteShapes, prober: Prober | null, client: ArrayBuffer, retries: bool, served: bool): void {
  const now = nowMs();
  const learnShape = retries && shapes.get(shapeKey(client), now) == null && STREAM_ORIGIN.fromProvider();
  // Probes go where a request succeeded, never where one failed: no client can aim them.
  const learnTarget = prober != null && served && prober.wantsTarget(now) &&
    aimsProbes(HeaderList.rawText(client, ":path")) && STREAM_ORIGIN.fromProvider();
  if (!learnShape && !learnTarget) return;
  const shape = RouteShape.derive(HeaderList.parse(client), getHeaderPairs(MapType.RequestHeaders), now);
  if (shape == null) return;
  if (learnShape) shapes.learn(shapeKey(client), shape);
  if (learnTarget) {
    const cluster = routeCluster();
    if (cluster != null) prober!.recordTarget(targetFromRoute(cluster, shape.authority, shape.path, shape.changed), now);
  }
}
