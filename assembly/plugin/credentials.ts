// Credential headers: the client's are always removed; the provider's is set from the pool.
import { MapType } from "../abi/enums";
import { HeaderList, removeHeaderBytes, replaceHeaderBytes } from "../runtime/headers";
import { PluginConfig } from "./config";

/** Every header a client may use to send a provider key. */
export const CREDENTIAL_HEADERS = ["authorization", "api-key", "x-api-key"];
const CREDENTIAL_HEADER_BYTES = CREDENTIAL_HEADERS.map<ArrayBuffer>((name: string) => String.UTF8.encode(name));

/** The credential header name and each token's header value, UTF-8 encoded once at configure time. */
export class EncodedCredentials {
  name: ArrayBuffer;
  values: ArrayBuffer[] = [];
  constructor(cfg: PluginConfig) {
    this.name = String.UTF8.encode(cfg.credentialHeader);
    for (let i = 0; i < cfg.apiTokens.length; i++) this.values.push(String.UTF8.encode(cfg.credentialPrefix + cfg.apiTokens[i]));
  }
}

/**
 * Removes the client's credentials and sets token `i` in the header the provider type needs.
 * `sent` (the request's serialized headers, when already read) limits removals to headers that are there.
 */
export function applyCredential(cfg: PluginConfig, encoded: EncodedCredentials, i: i32, sent: ArrayBuffer | null): void {
  for (let i = 0; i < CREDENTIAL_HEADERS.length; i++) {
    const name = CREDENTIAL_HEADERS[i];
    // The provider's own header is overwritten below; the others go.
    if (name == cfg.credentialHeader || (sent != null && !HeaderList.rawHas(sent, name))) continue;
    removeHeaderBytes(MapType.RequestHeaders, CREDENTIAL_HEADER_BYTES[i]);
  }
  replaceHeaderBytes(MapType.RequestHeaders, encoded.name, encoded.values[i]);
}
