// The one codec of the records this plugin keeps in shared data: `<version>;<payload>` in UTF-8.
// A record of another version (another build of the plugin in the same process, say during an
// upgrade) is ignored, and logged once per VM and kind of record, never misread. (Presence flags
// and the pool's 8-byte generation carry no fields to misread.)
import { LogLevel } from "../../abi/enums";
import { log, logEnabled } from "../../runtime/log";
import { SharedValue } from "../../runtime/shared_data";

export class RecordCodec {
  private readonly prefix: string;
  private warned: bool = false;

  constructor(readonly kind: string, readonly version: i32) {
    this.prefix = version.toString() + ";";
  }

  encode(payload: string): ArrayBuffer {
    return String.UTF8.encode(this.prefix + payload);
  }

  /** The payload of a stored record, or null when it is missing or of another version. */
  decode(value: SharedValue | null): string | null {
    if (value == null) return null;
    const text = String.UTF8.decode(value.bytes);
    if (text.startsWith(this.prefix)) return text.substring(this.prefix.length);
    if (!this.warned && logEnabled(LogLevel.Warn)) {
      this.warned = true;
      const semi = text.indexOf(";");
      log(LogLevel.Warn, "ignoring a shared " + this.kind + " record of version " +
        (semi > 0 && semi <= 8 ? text.substring(0, semi) : "unknown") + " (this build reads version " + this.version.toString() + ")");
    }
    return null;
  }
}

export const POOL_RECORD = new RecordCodec("pool", 1);
// Version 2: the record also says whether Redis feeds the buckets, and the replicas sharing them.
export const BUDGET_RECORD = new RecordCodec("budget", 2);
export const LEASE_RECORD = new RecordCodec("lease", 1);
export const SHAPE_RECORD = new RecordCodec("route shape", 1);
export const TARGET_RECORD = new RecordCodec("probe target", 1);
export const QUEUE_RECORD = new RecordCodec("queue", 1);
export const LINK_RECORD = new RecordCodec("replica link", 1);
export const DAILY_RECORD = new RecordCodec("daily quota", 1);
