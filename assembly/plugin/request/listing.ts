// A listing (see PathKind.Listing: the model lists SDKs and chat UIs fetch) goes with a key of the
// pool in place of the client's credentials. Nothing judges its answer, so it takes no budget,
// no queue place and no pace slot of a paced provider: those belong to inference.
import { applyCredential } from "../keys/credentials";
import { Plugin } from "../plugin";

/** Puts a key of the pool, chosen at random, on the listing request `raw`; false when there are no keys. */
export function sendListing(plugin: Plugin, raw: ArrayBuffer): bool {
  const failover = plugin.failover;
  if (failover != null) failover.store.refresh();
  const pool = failover != null ? failover.store.inPool : plugin.allKeys;
  const factors = failover != null ? failover.store.factors : null;
  let key = plugin.chooser.choose(plugin.random, pool, null, null, factors, null, 0);
  // With every key out of the pool, the one expected back first.
  if (key < 0) key = plugin.selector.dueFirst(null).key;
  if (key < 0) return false;
  applyCredential(plugin.config, plugin.credentials, key, raw);
  plugin.metrics.listing();
  return true;
}
