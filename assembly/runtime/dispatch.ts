// The proxy_on_* callbacks the host calls, routed to the context registry. None of them throws.
// Pulls the abort replacement into the program (asc --use abort=... names it).
import "./abort";
import { createContext, deleteContext, findRoot, findStream } from "./contexts";
import { routeCallAnswer } from "./calls";
import { enterCallback, leaveCallback, noteHostBytes } from "./collector";
import { streamCallback } from "./log";

/**
 * Allocator the host uses for values it hands to the module. Each block is a pinned managed
 * ArrayBuffer, so the runtime wrappers adopt it without a copy and unpin it (runtime/memory.ts).
 */
export function proxy_on_memory_allocate(size: usize): usize {
  noteHostBytes(size);
  return __pin(__new(size, idof<ArrayBuffer>()));
}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  enterCallback();
  streamCallback(false);
  createContext(contextId, parentId);
  leaveCallback();
}

export function proxy_on_vm_start(rootId: u32, configSize: usize): bool {
  enterCallback();
  streamCallback(false);
  const root = findRoot(rootId);
  const result: bool = root == null ? true : root.onVmStart(configSize);
  leaveCallback();
  return result;
}

export function proxy_on_configure(rootId: u32, configSize: usize): bool {
  enterCallback();
  streamCallback(false);
  const root = findRoot(rootId);
  const result: bool = root == null ? false : root.onConfigure(configSize);
  leaveCallback();
  return result;
}

export function proxy_on_tick(rootId: u32): void {
  enterCallback();
  streamCallback(false);
  const root = findRoot(rootId);
  if (root != null) root.onTick();
  leaveCallback();
}

export function proxy_on_http_call_response(rootId: u32, callId: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
  enterCallback();
  streamCallback(false);
  routeCallAnswer(callId, numHeaders, bodySize);
  leaveCallback();
}

export function proxy_on_request_headers(id: u32, numHeaders: u32, endOfStream: bool): i32 {
  enterCallback();
  streamCallback(true);
  const s = findStream(id);
  const result: i32 = s == null ? 0 : s.onRequestHeaders(numHeaders, endOfStream);
  leaveCallback();
  return result;
}

export function proxy_on_request_body(id: u32, size: usize, endOfStream: bool): i32 {
  enterCallback();
  streamCallback(true);
  const s = findStream(id);
  const result: i32 = s == null ? 0 : s.onRequestBody(size, endOfStream);
  leaveCallback();
  return result;
}

export function proxy_on_response_headers(id: u32, numHeaders: u32, endOfStream: bool): i32 {
  enterCallback();
  streamCallback(true);
  const s = findStream(id);
  const result: i32 = s == null ? 0 : s.onResponseHeaders(numHeaders, endOfStream);
  leaveCallback();
  return result;
}

export function proxy_on_response_body(id: u32, size: usize, endOfStream: bool): i32 {
  enterCallback();
  streamCallback(true);
  const s = findStream(id);
  const result: i32 = s == null ? 0 : s.onResponseBody(size, endOfStream);
  leaveCallback();
  return result;
}

export function proxy_on_log(id: u32): void {
  enterCallback();
  streamCallback(true);
  const s = findStream(id);
  if (s != null) s.onLog();
  leaveCallback();
}

export function proxy_on_delete(id: u32): void {
  enterCallback();
  streamCallback(false);
  deleteContext(id);
  leaveCallback();
}
