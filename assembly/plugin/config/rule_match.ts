// Which requests a Higress rule (`_rules_` of a WasmPlugin's matchRules) applies to, matched as
// Higress's own plugin SDK matches them: by route name (`_match_route_`, exact), route name prefix
// (`_match_route_prefix_`), host (`_match_domain_`: exact, `*.suffix` or `prefix.*`, the request's
// port left out) and service (`_match_service_`: `fqdn` or `fqdn:port` against the cluster name
// `outbound|port||fqdn`). A rule naming routes and services needs both; otherwise the first of
// routes, domains, services and route prefixes it names decides. Pure.

export const MATCH_ROUTE = "_match_route_";
export const MATCH_DOMAIN = "_match_domain_";
export const MATCH_SERVICE = "_match_service_";
export const MATCH_ROUTE_PREFIX = "_match_route_prefix_";
export const MATCH_KEYS = [MATCH_ROUTE, MATCH_DOMAIN, MATCH_SERVICE, MATCH_ROUTE_PREFIX];

/** What a request is matched by: its route's name, its host and its cluster (null: unknown). */
export class RequestScope {
  constructor(readonly route: string | null, readonly host: string, readonly cluster: string | null) {}
}

export class RuleMatch {
  routes: string[] = [];
  domains: string[] = [];
  services: string[] = [];
  routePrefixes: string[] = [];

  /** Whether the rule names anything to match (a rule that names nothing is refused). */
  get any(): bool {
    return this.routes.length + this.domains.length + this.services.length + this.routePrefixes.length > 0;
  }

  matches(r: RequestScope): bool {
    if (this.routes.length > 0 && this.services.length > 0) return this.routeMatches(r.route) && this.serviceMatches(r.cluster);
    if (this.routes.length > 0) return this.routeMatches(r.route);
    if (this.domains.length > 0) return this.domainMatches(hostWithoutPort(r.host));
    if (this.services.length > 0) return this.serviceMatches(r.cluster);
    if (this.routePrefixes.length > 0) {
      const route = r.route;
      if (route == null) return false;
      for (let i = 0; i < this.routePrefixes.length; i++) if (route.startsWith(this.routePrefixes[i])) return true;
    }
    return false;
  }

  private routeMatches(route: string | null): bool {
    return route != null && this.routes.includes(route);
  }

  private domainMatches(host: string): bool {
    for (let i = 0; i < this.domains.length; i++) {
      const d = this.domains[i];
      if (d.startsWith("*")) {
        if (host.endsWith(d.substring(1))) return true;
      } else if (d.endsWith("*")) {
        if (host.startsWith(d.substring(0, d.length - 1))) return true;
      } else if (host == d) {
        return true;
      }
    }
    return false;
  }

  private serviceMatches(cluster: string | null): bool {
    if (cluster == null) return false;
    const parts = cluster.split("|");
    if (parts.length != 4) return false;
    const port = parts[1], fqdn = parts[3];
    for (let i = 0; i < this.services.length; i++) {
      const s = this.services[i];
      const colon = s.lastIndexOf(":");
      if (colon < 0 ? s == fqdn : s.substring(0, colon) == fqdn && s.substring(colon + 1) == port) return true;
    }
    return false;
  }
}

/** The host without its port (`[v6]:port` keeps the brackets' address). */
export function hostWithoutPort(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end > 0 ? host.substring(0, end + 1) : host;
  }
  const colon = host.lastIndexOf(":");
  return colon < 0 || host.indexOf(":") != colon ? host : host.substring(0, colon);
}
