// Which key served a request, made visible on request of the operator: a response header and the
// stream's filter state (for access logs) name the key's fingerprint, never the token; when a
// request took more than one attempt, a second header and value list the keys tried, in order.
import { MapType } from "../../abi/enums";
import { removeHeaderBytes, replaceHeaderBytes } from "../../runtime/headers";
import { setProperty } from "../../runtime/host";
import { HeaderList } from "../../util/header_list";
import { PluginConfig } from "../config/config";

/** Filter-state names (Envoy prefixes them with `wasm.`). */
export const SERVED_KEY_PROPERTY = "ai_token_failover_key";
export const TRIED_KEYS_PROPERTY = "ai_token_failover_tried";

export class ServedKey {
  /** Whether anything is announced at all. */
  readonly on: bool;
  private header: string;
  private triedHeader: string;
  private headerBytes: ArrayBuffer;
  private triedHeaderBytes: ArrayBuffer;
  private filterState: bool;

  constructor(cfg: PluginConfig, private fingerprints: string[]) {
    const header = cfg.servedKeyHeader;
    this.header = header;
    this.triedHeader = header + "-tried";
    this.headerBytes = String.UTF8.encode(header);
    this.triedHeaderBytes = String.UTF8.encode(header + "-tried");
    this.filterState = cfg.servedKeyFilterState;
    this.on = header.length > 0 || cfg.servedKeyFilterState;
  }

  /** Names `served` (and, after retries, the keys `tried` in order) on the stream's live response headers. */
  announce(served: i32, tried: i32[]): void {
    const list = this.triedList(tried);
    if (this.header.length > 0) {
      replaceHeaderBytes(MapType.ResponseHeaders, this.headerBytes, String.UTF8.encode(this.fingerprints[served]));
      // An upstream's own header of that name must not pass for the plugin's.
      if (list.length > 0) replaceHeaderBytes(MapType.ResponseHeaders, this.triedHeaderBytes, String.UTF8.encode(list));
      else removeHeaderBytes(MapType.ResponseHeaders, this.triedHeaderBytes);
    }
    this.record(served, list);
  }

  /** The same, for an answer about to replace the held one (or to be a local reply): `headers` gain the names. */
  addTo(headers: HeaderList, served: i32, tried: i32[]): void {
    const list = this.triedList(tried);
    if (this.header.length > 0) {
      headers.removeAll(this.header);
      headers.removeAll(this.triedHeader);
      headers.add(this.header, this.fingerprints[served]);
      if (list.length > 0) headers.add(this.triedHeader, list);
    }
    this.record(served, list);
  }

  private record(served: i32, list: string): void {
    if (!this.filterState) return;
    setProperty(SERVED_KEY_PROPERTY, this.fingerprints[served]);
    if (list.length > 0) setProperty(TRIED_KEYS_PROPERTY, list);
  }

  // "" for a single attempt, otherwise every attempt's key in order.
  private triedList(tried: i32[]): string {
    if (tried.length < 2) return "";
    let out = "";
    for (let k = 0; k < tried.length; k++) out += (k > 0 ? "," : "") + this.fingerprints[tried[k]];
    return out;
  }
}
