// The headers and query parameters that carry credentials: every one a client may send (removed
// from its request), and the provider's header, with each key's value encoded once. The queue's priority header is the
// gateway's too: removed from the request like a credential, so it never reaches the provider.
// Pure.
import { PluginConfig } from "../config/config";

/** Every query parameter a client may use to send a provider key (Google's `key`, Azure's `api-key`, `subscription-key`); an operator adds more with `credentialParams`. */
export const CREDENTIAL_PARAMS = ["key", "api-key", "api_key", "subscription-key"];

/** Every header a client may use to send a provider key (an operator adds more with `credentialHeaders`). */
export const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key"];

/** Whether `name` (lower case) carries a client's credential (or the queue's priority) under this configuration. */
export function isCredential(cfg: PluginConfig, name: string): bool {
  return CREDENTIAL_HEADERS.includes(name) || cfg.credentialHeaders.includes(name) ||
    (cfg.queue.enabled && name == cfg.queue.priorityHeader);
}

/** The credential header names and each token's header value, UTF-8 encoded once at configure time. */
export class EncodedCredentials {
  name: ArrayBuffer;
  values: ArrayBuffer[] = [];
  /** Every header removed from a client's request (built-in and operator names, the queue's priority header). */
  removed: string[] = [];
  removedBytes: ArrayBuffer[] = [];
  /** Every query parameter removed from a client's path (built-in and operator names). */
  params: string[];
  constructor(cfg: PluginConfig) {
    this.name = String.UTF8.encode(cfg.credentialHeader);
    this.params = CREDENTIAL_PARAMS.concat(cfg.credentialParams);
    for (let i = 0; i < cfg.apiTokens.length; i++) this.values.push(String.UTF8.encode(cfg.credentialPrefix + cfg.apiTokens[i]));
    const all = CREDENTIAL_HEADERS.concat(cfg.credentialHeaders);
    if (cfg.queue.enabled) all.push(cfg.queue.priorityHeader);
    for (let i = 0; i < all.length; i++) {
      if (this.removed.includes(all[i])) continue;
      this.removed.push(all[i]);
      this.removedBytes.push(String.UTF8.encode(all[i]));
    }
  }
}
