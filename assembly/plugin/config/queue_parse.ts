// Reads the top-level `queue` section (see queue_config.ts). Pure.
import { PRIORITIES, QueueConfig, WhenExpired, WhenFull } from "./queue_config";
import { EMPTY_SECTION, Validator } from "./config_validator";
import { field } from "./schema";
import { JsonValue } from "../../util/json";

const QUEUE = "queue";
const WAITS = "queue.maxWaitMs";
const SHARES = "queue.share";

/** Reads `queue` from the configuration's root object. */
export function parseQueue(val: Validator, root: JsonValue, q: QueueConfig): void {
  const obj = val.object(root.get("queue"), "queue");
  if (obj == null) return;
  const p = "queue.";
  val.known(obj, p, QUEUE);
  q.enabled = val.flag(obj, p, field(QUEUE, "enabled"));
  q.maxWaiting = val.int(obj, p, field(QUEUE, "maxWaiting"));
  const header = val.text(obj, p, field(QUEUE, "priorityHeader")).toLowerCase();
  if (val.ok() && (header.length == 0 || header.includes(":") || header.includes(" "))) val.fail("queue.priorityHeader", "must be a header name");
  q.priorityHeader = header;
  const given = val.object(obj.get("maxWaitMs"), "queue.maxWaitMs");
  const waits = given != null ? given : EMPTY_SECTION;
  val.known(waits, "queue.maxWaitMs.", WAITS);
  for (let i = 0; i < PRIORITIES.length && val.ok(); i++) q.maxWaitMs[i] = val.int(waits, "queue.maxWaitMs.", field(WAITS, PRIORITIES[i]));
  const shareGiven = val.object(obj.get("share"), "queue.share");
  const shares = shareGiven != null ? shareGiven : EMPTY_SECTION;
  val.known(shares, "queue.share.", SHARES);
  for (let i = 0; i < PRIORITIES.length && val.ok(); i++) q.share[i] = val.int(shares, "queue.share.", field(SHARES, PRIORITIES[i]));
  const full = val.text(obj, p, field(QUEUE, "whenFull"));
  if (full == "reject") q.whenFull = WhenFull.Reject;
  else if (full == "passthrough") q.whenFull = WhenFull.Passthrough;
  else if (full == "drop_lowest") q.whenFull = WhenFull.DropLowest;
  else if (val.ok()) val.fail("queue.whenFull", "must be reject, passthrough or drop_lowest");
  const expired = val.text(obj, p, field(QUEUE, "whenExpired"));
  if (expired == "reject") q.whenExpired = WhenExpired.Reject;
  else if (expired == "passthrough") q.whenExpired = WhenExpired.Passthrough;
  else if (val.ok()) val.fail("queue.whenExpired", "must be reject or passthrough");
}
