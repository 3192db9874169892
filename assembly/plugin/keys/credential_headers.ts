// The headers that carry credentials: every one a client may send (removed from its request),
// and the provider's, with each key's value encoded once. The queue's priority header is the
// gateway's too: removed from the request like a credential, so it never reaches the provider.
// Pure.
import { PluginConfig } from "../config/config";

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
  constructor(cfg: PluginConfig) {
    this.name = String.UTF8.encode(cfg.credentialHeader);
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
