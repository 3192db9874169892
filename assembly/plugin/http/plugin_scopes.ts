// The configurations of one root context: the global one and each Higress rule's, each with its
// own Plugin (pool, budgets, queue), and how a stream finds the one that applies to it. Without
// rules a stream gets the global Plugin's filter at once, with no host call; with rules the choice
// waits for the request headers (the route is known only then) and reads the route name, the host
// and the cluster name once.
import { HeadersAction, MapType } from "../../abi/enums";
import { RootContext, StreamContext, replaceStream } from "../../runtime/contexts";
import { getHeader } from "../../runtime/headers";
import { getProperty } from "../../runtime/host";
import { RequestScope, RuleMatch } from "../config/rule_match";
import { Plugin } from "../plugin";
import { AttemptFilter } from "./attempt_filter";
import { TokenFilter } from "./filter";
import { StatusFilter } from "./status_filter";

/** The filter of `plugin`'s configuration for stream `id`. */
export function filterFor(plugin: Plugin, id: u32, root: RootContext): StreamContext {
  if (plugin.config.upstreamFilter) return new AttemptFilter(id, root, plugin);
  if (plugin.config.statusOnly) return new StatusFilter(id, root, plugin);
  return new TokenFilter(id, root, plugin);
}

export class PluginScopes {
  /** Every Plugin, the global one first. */
  readonly plugins: Plugin[] = [];

  /** `global`: the configuration without a rule (null: a request no rule matches passes untouched). */
  constructor(readonly global: Plugin | null, private matches: RuleMatch[], rulePlugins: Plugin[]) {
    if (global != null) this.plugins.push(global);
    for (let i = 0; i < rulePlugins.length; i++) this.plugins.push(rulePlugins[i]);
  }

  get hasRules(): bool { return this.matches.length > 0; }

  /** The Plugin that applies to a request of `scope`: the first rule that matches, else the global one. */
  pick(scope: RequestScope): Plugin | null {
    const offset = this.global != null ? 1 : 0;
    for (let i = 0; i < this.matches.length; i++) if (this.matches[i].matches(scope)) return this.plugins[offset + i];
    return this.global;
  }
}

/** A stream whose configuration is chosen by its request headers; it hands the stream to that configuration's filter. */
export class RuleRouter extends StreamContext {
  constructor(id: u32, root: RootContext, private scopes: PluginScopes) { super(id, root); }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const plugin = this.scopes.pick(currentScope());
    // No rule and no global configuration: the request passes untouched.
    if (plugin == null) return HeadersAction.Continue;
    const filter = filterFor(plugin, this.id, this.root);
    replaceStream(this.id, filter);
    return filter.onRequestHeaders(numHeaders, endOfStream);
  }
}

// The request's route name, host and cluster as Higress names them (`route_name`,
// `cluster_name`), or as plain Envoy does (`xds.route_name`, `xds.cluster_name`).
function currentScope(): RequestScope {
  let route = getProperty("route_name");
  if (route == null || route.length == 0) route = getProperty("xds.route_name");
  let cluster = getProperty("cluster_name");
  if (cluster == null || cluster.length == 0) cluster = getProperty("xds.cluster_name");
  const host = getHeader(MapType.RequestHeaders, ":authority");
  return new RequestScope(route, host != null ? host : "", cluster);
}
