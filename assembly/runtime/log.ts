// Logging through proxy_log, every line prefixed with the product name unless the host already
// puts it there: Envoy starts a line with the plugin's configured name while a stream context is
// the effective one (stream callbacks, or a call answer made effective for its stream), and with a
// bare `wasm log:` on the root context (configuration, ticks, call answers: Envoy makes every
// call on the root context).
import { proxy_get_log_level, proxy_log } from "../abi/imports";
import { LogLevel, Status } from "../abi/enums";
import { SLOT_EXTRA, ptrOf, utf8 } from "./memory";

const PREFIX = "ai-token-failover: ";
let hostNames = false;
let onStream = false;

/** Whether the host's prefix of stream callbacks' lines names the product already. */
export function hostNamesProduct(names: bool): void {
  hostNames = names;
}

/** Whether a stream context is the effective one (set by the exports and setEffectiveContext). */
export function streamCallback(yes: bool): void {
  onStream = yes;
}

/** Whether the host would keep a line of this level; check it before building a message. */
export function logEnabled(level: LogLevel): bool {
  store<u32>(SLOT_EXTRA, 0);
  if (proxy_get_log_level(SLOT_EXTRA) != Status.Ok) return true;
  return <i32>level >= <i32>load<u32>(SLOT_EXTRA);
}

/** Writes one log line; any phase. */
export function log(level: LogLevel, message: string): void {
  const bytes = utf8(hostNames && onStream ? message : PREFIX + message);
  proxy_log(level, ptrOf(bytes), bytes.byteLength);
}

/** Logs at warn level. */
export function logWarn(message: string): void { log(LogLevel.Warn, message); }

/** Logs at error level. */
export function logError(message: string): void { log(LogLevel.Error, message); }
