// Metrics through proxy_define_metric; ids are cached by the caller.
import { proxy_define_metric, proxy_get_metric, proxy_increment_metric, proxy_record_metric } from "../abi/imports";
import { MetricType, Status } from "../abi/enums";
import { SLOT_EXTRA, ptrOf, utf8 } from "./memory";

/** Metric id meaning "not defined"; increments on it are skipped. */
export const NO_METRIC: i64 = -1;

/** Defines (or finds) a metric; configure phase or later. Returns NO_METRIC on failure. */
export function defineMetric(kind: MetricType, name: string): i64 {
  const n = utf8(name);
  store<u32>(SLOT_EXTRA, 0);
  if (proxy_define_metric(kind, ptrOf(n), n.byteLength, SLOT_EXTRA) != Status.Ok) return NO_METRIC;
  return <i64>load<u32>(SLOT_EXTRA);
}

/** Adds `delta` to a counter or gauge. */
export function incrementMetric(id: i64, delta: i64 = 1): void {
  if (id != NO_METRIC) proxy_increment_metric(<u32>id, delta);
}

/** Sets a gauge. */
export function recordMetric(id: i64, value: u64): void {
  if (id != NO_METRIC) proxy_record_metric(<u32>id, value);
}

/**
 * A metric's value (0 when it cannot be read). Envoy keeps one stat per name for the whole
 * process, so a counter reads what every worker added to it.
 */
export function readMetric(id: i64): u64 {
  if (id == NO_METRIC) return 0;
  store<u64>(SLOT_EXTRA, 0);
  return proxy_get_metric(<u32>id, SLOT_EXTRA) == Status.Ok ? load<u64>(SLOT_EXTRA) : 0;
}
