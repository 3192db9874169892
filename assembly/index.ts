// Module entry, wiring only: installs the product's root context and exports the ABI callbacks.
import { setRootFactory } from "./runtime/contexts";
import { PluginRoot } from "./plugin/http/root";

setRootFactory((id: u32) => changetype<PluginRoot>(new PluginRoot(id)));

/** ABI version marker the host looks for; never called. */
export function proxy_abi_version_0_2_1(): void {}

// No proxy_on_done: it would only say "done" at once, which is what the host assumes when the
// module does not export it (and then it skips the call, one Wasm entry per request fewer).
export {
  proxy_on_memory_allocate, proxy_on_context_create, proxy_on_vm_start, proxy_on_configure,
  proxy_on_tick, proxy_on_http_call_response, proxy_on_request_headers, proxy_on_request_body,
  proxy_on_response_headers, proxy_on_response_body, proxy_on_log, proxy_on_delete,
} from "./runtime/dispatch";
