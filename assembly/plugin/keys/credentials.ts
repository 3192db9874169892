// Credential headers: the client's are always removed; the provider's is set from the pool.
import { MapType } from "../../abi/enums";
import { HeaderList } from "../../util/header_list";
import { removeHeaderBytes, replaceHeaderBytes } from "../../runtime/headers";
import { PluginConfig } from "../config/config";
import { EncodedCredentials } from "./credential_headers";
import { withoutParams } from "../../util/query_params";

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
  // Credentials in the query string too: a path without one costs no string.
  const at = HeaderList.rawFind(sent, ":path");
  const whole = <usize>(at & 0xffffffff);
  if (at == 0 || <usize>(HeaderList.rawPath(sent) & 0xffffffff) == whole) return;
  const path = String.UTF8.decodeUnsafe(<usize>(at >> 32), whole, false);
  const clean = withoutParams(path, encoded.params);
  if (clean != null) replaceHeaderBytes(MapType.RequestHeaders, PATH, String.UTF8.encode(clean));
}

const PATH = String.UTF8.encode(":path");

/** Removes the client's credentials and sets token `i` in the header the provider type needs. */
export function applyCredential(cfg: PluginConfig, encoded: EncodedCredentials, i: i32, sent: ArrayBuffer): void {
  removeClientCredentials(encoded, sent, cfg.credentialHeader);
  replaceHeaderBytes(MapType.RequestHeaders, encoded.name, encoded.values[i]);
}
