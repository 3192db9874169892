// A do-nothing Proxy-Wasm filter built with the same toolchain and ABI layer as the plugin: the
// benchmark's baseline for "a Wasm filter is present". Every callback continues.
export function proxy_abi_version_0_2_1(): void {}

export {
  proxy_on_memory_allocate, proxy_on_context_create, proxy_on_vm_start, proxy_on_configure,
  proxy_on_tick, proxy_on_http_call_response, proxy_on_request_headers, proxy_on_request_body,
  proxy_on_response_headers, proxy_on_response_body, proxy_on_log, proxy_on_delete,
} from "../assembly/runtime/dispatch";
