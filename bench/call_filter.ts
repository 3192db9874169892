// The empty filter plus CALLS host calls of one kind in every request-headers callback: the
// benchmark's measure of what one host call costs in Envoy. The kind is chosen at build time
// (asc --use CALL_KIND=<n>); see bench/host_call_cost.ts.
import { MapType, MetricType } from "../assembly/abi/enums";
import { getHeaderDecimal, getHeaderPairsRaw, replaceHeaderBytes } from "../assembly/runtime/headers";
import { nowMs } from "../assembly/runtime/host";
import { defineMetric, incrementMetric } from "../assembly/runtime/metrics";
import { readShared } from "../assembly/runtime/shared_data";

// CALL_KIND is a global constant asc introduces (--use CALL_KIND=<n>).
// @ts-ignore
const KIND: i32 = CALL_KIND;
const CALLS = 20;
const NAME = String.UTF8.encode("x-bench");
const VALUE = String.UTF8.encode("1");
const KEY = String.UTF8.encode("bench:key");
let metric: i64 = -1;

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_request_headers(id: u32, numHeaders: u32, endOfStream: bool): i32 {
  let sink: i64 = 0;
  for (let i = 0; i < CALLS; i++) {
    if (KIND == 1) sink += getHeaderPairsRaw(MapType.RequestHeaders).byteLength;
    else if (KIND == 2) sink += getHeaderDecimal(MapType.RequestHeaders, NAME);
    else if (KIND == 3) replaceHeaderBytes(MapType.RequestHeaders, NAME, VALUE);
    else if (KIND == 4) { const v = readShared(KEY); if (v != null) sink++; }
    else if (KIND == 5) { if (metric < 0) metric = defineMetric(MetricType.Counter, "bench_calls"); incrementMetric(metric); }
    else if (KIND == 6) sink += nowMs();
  }
  return sink == -12345 ? 1 : 0;
}

export {
  proxy_on_memory_allocate, proxy_on_context_create, proxy_on_vm_start, proxy_on_configure,
  proxy_on_tick, proxy_on_http_call_response, proxy_on_request_body,
  proxy_on_response_headers, proxy_on_response_body, proxy_on_log, proxy_on_delete,
} from "../assembly/runtime/dispatch";
