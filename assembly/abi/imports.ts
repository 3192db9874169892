// Raw host functions of the Proxy-Wasm ABI 0.2.1, names as in the specification.
// Only assembly/runtime/ calls these; everything else uses the typed wrappers.

@external("env", "proxy_log")
export declare function proxy_log(level: i32, messageData: usize, messageSize: usize): i32;

@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(returnLevel: usize): i32;

@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(returnTime: usize): i32;

@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(periodMs: u32): i32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(bufferType: i32, start: usize, maxSize: usize, returnData: usize, returnSize: usize): i32;

@external("env", "proxy_set_buffer_bytes")
export declare function proxy_set_buffer_bytes(bufferType: i32, start: usize, length: usize, data: usize, size: usize): i32;

@external("env", "proxy_set_header_map_pairs")
export declare function proxy_set_header_map_pairs(mapType: i32, data: usize, size: usize): i32;

@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(mapType: i32, returnData: usize, returnSize: usize): i32;

@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(mapType: i32, keyData: usize, keySize: usize, returnData: usize, returnSize: usize): i32;

@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(mapType: i32, keyData: usize, keySize: usize, valueData: usize, valueSize: usize): i32;

@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(mapType: i32, keyData: usize, keySize: usize): i32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(pathData: usize, pathSize: usize, returnData: usize, returnSize: usize): i32;

@external("env", "proxy_set_property")
export declare function proxy_set_property(pathData: usize, pathSize: usize, valueData: usize, valueSize: usize): i32;

@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(keyData: usize, keySize: usize, returnData: usize, returnSize: usize, returnCas: usize): i32;

@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(keyData: usize, keySize: usize, valueData: usize, valueSize: usize, cas: u32): i32;

@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upstreamData: usize, upstreamSize: usize,
  headersData: usize, headersSize: usize,
  bodyData: usize, bodySize: usize,
  trailersData: usize, trailersSize: usize,
  timeoutMs: u32, returnCallId: usize,
): i32;

@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  statusCode: u32, detailsData: usize, detailsSize: usize,
  bodyData: usize, bodySize: usize,
  headersData: usize, headersSize: usize, grpcStatus: i32,
): i32;

@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(contextId: u32): i32;

@external("env", "proxy_continue_stream")
export declare function proxy_continue_stream(streamType: i32): i32;

@external("env", "proxy_define_metric")
export declare function proxy_define_metric(metricType: i32, nameData: usize, nameSize: usize, returnMetricId: usize): i32;

@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metricId: u32, delta: i64): i32;

@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metricId: u32, value: u64): i32;

@external("env", "proxy_get_metric")
export declare function proxy_get_metric(metricId: u32, returnValue: usize): i32;

@external("wasi_snapshot_preview1", "random_get")
export declare function wasi_random_get(buffer: usize, size: usize): i32;

@external("wasi_snapshot_preview1", "environ_sizes_get")
export declare function wasi_environ_sizes_get(count: usize, bytes: usize): i32;

@external("wasi_snapshot_preview1", "environ_get")
export declare function wasi_environ_get(pointers: usize, bytes: usize): i32;
