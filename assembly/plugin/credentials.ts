// Credential headers: the client's are always removed; the provider's is set from the pool.
import { MapType } from "../abi/enums";
import { HeaderList, removeHeader, replaceHeader } from "../runtime/headers";
import { PluginConfig } from "./config";

/** Every header a client may use to send a provider key. */
export const CREDENTIAL_HEADERS = ["authorization", "api-key", "x-api-key"];

/**
 * Removes the client's credentials and sets the token in the header the provider type needs.
 * `sent` (the request's serialized headers, when already read) limits removals to headers that are there.
 */
export function applyCredential(cfg: PluginConfig, token: string, sent: ArrayBuffer | null): void {
  for (let i = 0; i < CREDENTIAL_HEADERS.length; i++) {
    const name = CREDENTIAL_HEADERS[i];
    // The provider's own header is overwritten below; the others go.
    if (name == cfg.credentialHeader || (sent != null && !HeaderList.rawHas(sent, name))) continue;
    removeHeader(MapType.RequestHeaders, name);
  }
  replaceHeader(MapType.RequestHeaders, cfg.credentialHeader, cfg.credentialPrefix + token);
}
