// Credential headers: the client's are always removed; the provider's is set from the pool.
import { MapType } from "../abi/enums";
import { HeaderList } from "../util/header_list";
import { removeHeaderBytes, replaceHeaderBytes } from "../runtime/headers";
import { PluginConfig } from "./config";

/** Every header a client may use to send a provider key (an operator adds more with `credentialHeaders`). */
export const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key"];

/** Whether `name` (lower case) carries a client's credential under this configuration. */
export function isCredential(cfg: PluginConfig, name: string): bool {
  return CREDENTIAL_HEADERS.includes(name) || cfg.credentialHeaders.includes(name);
}

/** The credential header names and each token's header value, UTF-8 encoded once at configure time. */
export class EncodedCredentials {
  name: ArrayBuffer;
  values: ArrayBuffer[] = [];
  /** Every header removed from a client's request (built-in and operator names). */
  removed: string[] = [];
  removedBytes: ArrayBuffer[] = [];
  constructor(cfg: PluginConfig) {
    this.name = String.UTF8.encode(cfg.credentialHeader);
    for (let i = 0; i < cfg.apiTokens.length; i++) this.values.push(String.UTF8.encode(cfg.credentialPrefix + cfg.apiTokens[i]));
    const all = CREDENTIAL_HEADERS.concat(cfg.credentialHeaders);
    for (let i = 0; i < all.length; i++) {
      if (this.removed.includes(all[i])) continue;
      this.removed.push(all[i]);
      this.removedBytes.push(String.UTF8.encode(all[i]));
    }
  }
}

/**
 * Removes every credential the client sent (`sent`: the request's serialized headers, so only
 * headers that are there cost a call); `keep` names the header about to be overwritten.
 */
export function removeClientCredentials(encoded: EncodedCredentials, sent: ArrayBuffer, keep: string | null): void {
  for (let i = 0; i < encoded.removed.length; i++) {
    const name = encoded.removed[i];
    if ((keep != null && name == keep) || !HeaderList.rawHas(sent, name)) continue;
    removeHeaderBytes(MapType.RequestHeaders, encoded.removedBytes[i]);
  }
}

/** Removes the client's credentials and sets token `i` in the header the provider type needs. */
export function applyCredential(cfg: PluginConfig, encoded: EncodedCredentials, i: i32, sent: ArrayBuffer): void {
  removeClientCredentials(encoded, sent, cfg.credentialHeader);
  replaceHeaderBytes(MapType.RequestHeaders, encoded.name, encoded.values[i]);
}
