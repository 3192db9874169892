// Per-request work: choose a token and send it in place of the client's credentials.
import { HeadersAction } from "../abi/enums";
import { StreamContext } from "../runtime/contexts";
import { applyCredential } from "./credentials";
import { PluginRoot } from "./root";

/** The HTTP filter of one stream. */
export class TokenFilter extends StreamContext {
  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const root = changetype<PluginRoot>(this.root);
    const cfg = root.config;
    if (cfg == null) return HeadersAction.Continue;
    const index = root.random.below(cfg.apiTokens.length);
    applyCredential(cfg, cfg.apiTokens[index]);
    return HeadersAction.Continue;
  }
}
