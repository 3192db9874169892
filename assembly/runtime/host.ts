// Small host services: clock, tick period, randomness, properties, effective context, continue.
import {
  proxy_continue_stream, proxy_get_current_time_nanoseconds, proxy_get_property,
  proxy_set_effective_context, proxy_set_property, proxy_set_tick_period_milliseconds, wasi_random_get,
} from "../abi/imports";
import { Status, StreamType } from "../abi/enums";
import { SLOT_EXTRA, SLOT_PTR, SLOT_SIZE, clearSlots, ptrOf, takeHostString, utf8 } from "./memory";
import { findStream } from "./contexts";
import { streamCallback } from "./log";
import { Clock } from "../util/clock";

/** Host wall-clock time in milliseconds; any phase after _initialize. */
export function nowMs(): i64 {
  store<u64>(SLOT_EXTRA, 0);
  proxy_get_current_time_nanoseconds(SLOT_EXTRA);
  return <i64>(load<u64>(SLOT_EXTRA) / 1_000_000);
}

/** The host's clock, for code that reads the time only on rare paths. */
class HostClock extends Clock {
  now(): i64 { return nowMs(); }
}
export const HOST_CLOCK: Clock = new HostClock();

/** Sets this root context's tick period (0 disables ticks); configure phase or later. */
export function setTickPeriod(ms: u32): void {
  proxy_set_tick_period_milliseconds(ms);
}

/** 64 random bits from WASI random_get (0 if the host refuses). */
export function randomU64(): u64 {
  store<u64>(SLOT_EXTRA, 0);
  wasi_random_get(SLOT_EXTRA, 8);
  return load<u64>(SLOT_EXTRA);
}

/** A string property such as `cluster_name` or `response.code_details`, or null when absent. */
export function getProperty(path: string): string | null {
  // The ABI separates path segments with NUL bytes.
  const bytes = utf8(path.replaceAll(".", "\0"));
  clearSlots();
  if (proxy_get_property(ptrOf(bytes), bytes.byteLength, SLOT_PTR, SLOT_SIZE) != Status.Ok) return null;
  return takeHostString();
}

/**
 * An integer property such as `request.total_size` (Envoy hands int64 values as 8 little-endian
 * bytes), or -1 when absent or not an integer.
 */
export function getPropertyInt(path: string): i64 {
  const bytes = utf8(path.replaceAll(".", "\0"));
  clearSlots();
  if (proxy_get_property(ptrOf(bytes), bytes.byteLength, SLOT_PTR, SLOT_SIZE) != Status.Ok) return -1;
  const ptr = load<usize>(SLOT_PTR);
  if (ptr == 0) return -1;
  const value = load<usize>(SLOT_SIZE) == 8 ? load<i64>(ptr) : -1;
  __unpin(ptr);
  return value;
}

/**
 * Sets a property of the current stream (one path segment). Envoy keeps it in the stream's filter
 * state as `wasm.<name>`, which access logs read with %FILTER_STATE(wasm.<name>:PLAIN)%.
 */
export function setProperty(name: string, value: string): bool {
  const path = utf8(name);
  const bytes = utf8(value);
  return proxy_set_property(ptrOf(path), path.byteLength, ptrOf(bytes), bytes.byteLength) == Status.Ok;
}

/** Makes `contextId` the target of the following stream calls; used from HTTP-call callbacks. */
export function setEffectiveContext(contextId: u32): bool {
  if (proxy_set_effective_context(contextId) != Status.Ok) return false;
  // Envoy prefixes log lines by the effective context: a stream's names the plugin, a root's does not.
  streamCallback(findStream(contextId) != null);
  return true;
}

/** Resumes a paused request or response of the effective stream context. */
export function continueStream(stream: StreamType): bool {
  return proxy_continue_stream(stream) == Status.Ok;
}

/** Envoy cluster of the current request's route (`xds.cluster_name`, older hosts `cluster_name`), or null. */
export function routeCluster(): string | null {
  let cluster = getProperty("xds.cluster_name");
  if (cluster == null || cluster.length == 0) cluster = getProperty("cluster_name");
  return cluster != null && cluster.length > 0 ? cluster : null;
}
