// Credential headers: the client's are always removed; the provider's is set from the pool.
import { MapType } from "../abi/enums";
import { removeHeader, replaceHeader } from "../runtime/headers";
import { PluginConfig } from "./config";

/** Every header a client may use to send a provider key. */
export const CREDENTIAL_HEADERS = ["authorization", "api-key", "x-api-key"];

/** Removes the client's credentials and sets the token in the header the provider type needs. */
export function applyCredential(cfg: PluginConfig, token: string): void {
  for (let i = 0; i < CREDENTIAL_HEADERS.length; i++) removeHeader(MapType.RequestHeaders, CREDENTIAL_HEADERS[i]);
  replaceHeader(MapType.RequestHeaders, cfg.credentialHeader, cfg.credentialPrefix + token);
}
