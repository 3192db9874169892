// Replacement for AssemblyScript's `env.abort` import, which Envoy would refuse to link.
import { LogLevel } from "../abi/enums";
import { proxy_log } from "../abi/imports";
import { utf8 } from "./memory";

/** Replaces AssemblyScript's `env.abort` import: logs where the module failed, then traps. */
export function abortHandler(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = "ai-token-failover: fatal: " + (message != null ? message : "abort") + " at " +
    (fileName != null ? fileName : "?") + ":" + line.toString() + ":" + column.toString();
  const bytes = utf8(text);
  proxy_log(LogLevel.Critical, changetype<usize>(bytes), bytes.byteLength);
  unreachable();
}
