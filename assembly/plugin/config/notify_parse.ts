// Reads `notify`: the operator's endpoint (an Envoy cluster, its authority and path, extra headers)
// that hears of keys leaving, coming back and staying dead, and of the provider's state. Pure.
import { NotifyConfig } from "./config";
import { Validator } from "./config_validator";
import { field } from "./schema";
import { JsonValue } from "../../util/json";
import { readHeaderPairs } from "./header_pairs";

export function parseNotify(val: Validator, root: JsonValue, n: NotifyConfig): void {
  const obj = val.object(root.get("notify"), "notify");
  if (obj == null) return;
  val.known(obj, "notify.", "notify");
  n.cluster = val.text(obj, "notify.", field("notify", "cluster"));
  n.authority = val.text(obj, "notify.", field("notify", "authority"));
  n.path = val.text(obj, "notify.", field("notify", "path"));
  n.deadAfterMs = val.int(obj, "notify.", field("notify", "deadAfterMs"));
  readHeaderPairs(val, obj, "headers", "notify.headers", n.headerNames, n.headerValues);
  if (!val.ok()) return;
  if (n.cluster.length == 0) val.fail("notify.cluster", "is required: the Envoy cluster of the endpoint told of key changes");
  else if (n.authority.length == 0) val.fail("notify.authority", "is required: the endpoint's host");
  else if (n.path.length == 0 || n.path.charAt(0) != "/") val.fail("notify.path", "must start with '/'");
}
