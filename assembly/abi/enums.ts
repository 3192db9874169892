// Constants of the Proxy-Wasm ABI 0.2.1 and of Envoy's filter statuses.

/** Host status codes (proxy_status_t). */
export const enum Status {
  Ok = 0, NotFound = 1, BadArgument = 2, SerializationFailure = 3, ParseFailure = 4,
  InvalidMemoryAccess = 6, Empty = 7, CasMismatch = 8, InternalFailure = 10, Unimplemented = 12,
}

/** Log levels (proxy_log_level_t). */
export const enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }

/** Header maps (proxy_map_type_t). */
export const enum MapType {
  RequestHeaders = 0, RequestTrailers = 1, ResponseHeaders = 2, ResponseTrailers = 3,
  HttpCallResponseHeaders = 6, HttpCallResponseTrailers = 7,
}

/** Buffers (proxy_buffer_type_t). */
export const enum BufferType {
  RequestBody = 0, ResponseBody = 1, HttpCallResponseBody = 4, VmConfiguration = 6, PluginConfiguration = 7,
  /** Higress only: a Redis reply, readable during proxy_on_redis_call_response. */
  RedisCallResponse = 9,
}

/** Streams (proxy_stream_type_t) for proxy_continue_stream. */
export const enum StreamType { Request = 0, Response = 1 }

/** Metric kinds (proxy_metric_type_t). */
export const enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

/** Return values of header callbacks (Envoy FilterHeadersStatus). */
export const enum HeadersAction { Continue = 0, StopIteration = 1 }

/** Return values of body callbacks (Envoy FilterDataStatus). */
export const enum DataAction { Continue = 0, StopIterationAndBuffer = 1, StopIterationNoBuffer = 3 }
