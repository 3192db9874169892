// Outgoing HTTP calls and local responses.
import { proxy_http_call, proxy_send_local_response } from "../abi/imports";
import { Status } from "../abi/enums";
import { HeaderList } from "./headers";
import { SLOT_EXTRA, ptrOf, utf8 } from "./memory";

/** Dispatches an HTTP call to an Envoy cluster; returns the call id, or 0 when the host refused it. */
export function dispatchHttpCall(cluster: string, headers: HeaderList, body: ArrayBuffer, timeoutMs: u32): u32 {
  const upstream = utf8(cluster);
  const hdrs = headers.serialize();
  store<u32>(SLOT_EXTRA, 0);
  const status = proxy_http_call(
    ptrOf(upstream), upstream.byteLength, ptrOf(hdrs), hdrs.byteLength,
    ptrOf(body), body.byteLength, 0, 0, timeoutMs, SLOT_EXTRA,
  );
  if (status != Status.Ok) return 0;
  return load<u32>(SLOT_EXTRA);
}

/** Answers the effective stream with a response made here; takes effect when the callback returns. */
export function sendLocalResponse(status: u32, details: string, body: ArrayBuffer, headers: HeaderList): bool {
  const d = utf8(details);
  const h = headers.serialize();
  return proxy_send_local_response(status, ptrOf(d), d.byteLength, ptrOf(body), body.byteLength, ptrOf(h), h.byteLength, -1) == Status.Ok;
}
