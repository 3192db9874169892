// Higress's Redis host functions (its Envoy fork; see the Higress Go SDK's abi_hostcalls.go).
// Only the Higress build imports this file: Envoy and Istio refuse a module that imports them.

@external("env", "proxy_redis_init")
export declare function proxy_redis_init(serviceData: usize, serviceSize: usize, usernameData: usize, usernameSize: usize,
  passwordData: usize, passwordSize: usize, timeoutMs: u32): i32;

@external("env", "proxy_redis_call")
export declare function proxy_redis_call(serviceData: usize, serviceSize: usize, queryData: usize, querySize: usize, returnToken: usize): i32;
