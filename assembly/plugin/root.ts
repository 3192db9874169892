// The plugin's root context: configuration, and the per-VM objects every stream shares.
import { BufferType, LogLevel } from "../abi/enums";
import { getBufferBytes } from "../runtime/buffers";
import { RootContext, StreamContext } from "../runtime/contexts";
import { randomU64 } from "../runtime/host";
import { logEnabled, logError, logWarn } from "../runtime/log";
import { PluginConfig, parseConfig } from "./config";
import { TokenFilter } from "./filter";
import { Random } from "./random";

/** Root context of one plugin configuration in one VM. */
export class PluginRoot extends RootContext {
  config: PluginConfig | null = null;
  random: Random = new Random(randomU64());

  onConfigure(configSize: usize): bool {
    const bytes = getBufferBytes(BufferType.PluginConfiguration, 0, configSize);
    const text = bytes == null ? "" : String.UTF8.decode(bytes);
    const result = parseConfig(text);
    if (logEnabled(LogLevel.Warn)) {
      for (let i = 0; i < result.warnings.length; i++) logWarn(result.warnings[i]);
    }
    const cfg = result.config;
    if (cfg == null) {
      logError("invalid config: " + result.error);
      return false;
    }
    this.config = cfg;
    return true;
  }

  createStream(id: u32): StreamContext {
    return new TokenFilter(id, this);
  }
}
