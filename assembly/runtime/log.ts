// Logging through proxy_log, every line prefixed with the product name unless the host already
// puts it there (Envoy starts each line with the plugin's configured name).
import { proxy_get_log_level, proxy_log } from "../abi/imports";
import { LogLevel, Status } from "../abi/enums";
import { SLOT_EXTRA, ptrOf, utf8 } from "./memory";

const PREFIX = "ai-token-failover: ";
let prefix = PREFIX;

/** Drops the product name from the lines when the host's own prefix already names it. */
export function hostNamesProduct(names: bool): void {
  prefix = names ? "" : PREFIX;
}

/** Whether the host would keep a line of this level; check it before building a message. */
export function logEnabled(level: LogLevel): bool {
  store<u32>(SLOT_EXTRA, 0);
  if (proxy_get_log_level(SLOT_EXTRA) != Status.Ok) return true;
  return <i32>level >= <i32>load<u32>(SLOT_EXTRA);
}

/** Writes one log line; any phase. */
export function log(level: LogLevel, message: string): void {
  const bytes = utf8(prefix + message);
  proxy_log(level, ptrOf(bytes), bytes.byteLength);
}

/** Logs at warn level. */
export function logWarn(message: string): void { log(LogLevel.Warn, message); }

/** Logs at error level. */
export function logError(message: string): void { log(LogLevel.Error, message); }
