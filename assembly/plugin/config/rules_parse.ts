// Higress's matchRules as the controller hands them to a plugin: `_rules_`, each rule's
// configuration read over the global one (a field a rule leaves out keeps the global value), and
// which requests each rule applies to. Without `_rules_` the configuration is the global one alone;
// with only `_rules_` (defaultConfigDisable) there is no global configuration, and a request no
// rule matches passes untouched. Pure.
import { JsonKind, JsonValue, readJson } from "../../util/json";
import { mergeJson, withoutMembers } from "../../util/json_merge";
import { PluginConfig } from "./config";
import { hash64 } from "../../util/fingerprint";
import { parseConfigValue } from "./config_parse";
import { MATCH_DOMAIN, MATCH_KEYS, MATCH_ROUTE, MATCH_ROUTE_PREFIX, MATCH_SERVICE, RuleMatch } from "./rule_match";

const RULES = "_rules_";

/** One rule: which requests it applies to, and its configuration. */
export class RuleConfig {
  constructor(readonly match: RuleMatch, readonly config: PluginConfig) {}
}

/** A configuration with its rules: `global` null when there is none (only rules). */
export class ScopedConfig {
  global: PluginConfig | null = null;
  rules: RuleConfig[] = [];
  warnings: string[] = [];
  /** Why the configuration is refused ("" when accepted). */
  error: string = "";

  /** Every configuration it holds, the global one first. */
  get all(): PluginConfig[] {
    const out: PluginConfig[] = [];
    const g = this.global;
    if (g != null) out.push(g);
    for (let i = 0; i < this.rules.length; i++) out.push(this.rules[i].config);
    return out;
  }
}

/** Reads a configuration text, with or without `_rules_`. */
export function parseScoped(text: string): ScopedConfig {
  const out = new ScopedConfig();
  const doc = readJson(text.trim());
  const root = doc.value;
  if (root == null) {
    out.error = "configuration is not valid JSON: " + doc.error;
    return out;
  }
  const rules = root.kind == JsonKind.Object ? root.get(RULES) : null;
  if (rules == null) {
    const r = parseConfigValue(root);
    out.global = r.config;
    out.warnings = r.warnings;
    out.error = r.error;
    return out;
  }
  if (rules.kind != JsonKind.Array) {
    out.error = RULES + " must be an array of rules";
    return out;
  }
  const globalJson = withoutMembers(root, [RULES]);
  const hasGlobal = globalJson.keys.length > 0;
  if (hasGlobal) {
    const r = parseConfigValue(globalJson);
    out.warnings = r.warnings;
    if (r.config == null) {
      out.error = r.error;
      return out;
    }
    out.global = r.config;
  }
  for (let i = 0; i < rules.items.length; i++) {
    const name = RULES + "[" + i.toString() + "]";
    const rule = rules.items[i];
    if (rule.kind != JsonKind.Object) {
      out.error = name + " must be an object";
      return out;
    }
    const match = new RuleMatch();
    const error = readMatch(rule, name, match);
    if (error.length > 0) {
      out.error = error;
      return out;
    }
    const merged = withoutMembers(hasGlobal ? mergeJson(globalJson, rule) : rule, MATCH_KEYS);
    const r = parseConfigValue(merged);
    for (let w = 0; w < r.warnings.length; w++) if (!out.warnings.includes(r.warnings[w])) out.warnings.push(name + ": " + r.warnings[w]);
    if (r.config == null) {
      out.error = name + ": " + r.error;
      return out;
    }
    out.rules.push(new RuleConfig(match, r.config!));
  }
  if (!hasGlobal && out.rules.length == 0) out.error = RULES + " has no rule and there is no global configuration";
  return out;
}

// Reads a rule's matchers into `match`; the refusal ("" when they read).
function readMatch(rule: JsonValue, name: string, match: RuleMatch): string {
  const keys = [MATCH_ROUTE, MATCH_DOMAIN, MATCH_SERVICE, MATCH_ROUTE_PREFIX];
  const lists = [match.routes, match.domains, match.services, match.routePrefixes];
  for (let k = 0; k < keys.length; k++) {
    const v = rule.get(keys[k]);
    if (v == null) continue;
    if (v.kind != JsonKind.Array) return name + "." + keys[k] + " must be an array of strings";
    for (let j = 0; j < v.items.length; j++) {
      const item = v.items[j];
      if (item.kind != JsonKind.String || item.str.length == 0) return name + "." + keys[k] + "[" + j.toString() + "] must be a non-empty string";
      lists[k].push(item.str);
    }
  }
  return match.any ? "" : name + " names no " + keys.join(", ") + ": it would apply to no request";
}

/**
 * Names the pool of each rule (once its keys are known, environment keys included): a rule with
 * the global configuration's provider and keys shares its pool (""), rules with the same provider
 * and keys share one, any other rule has a pool of its own.
 */
export function namePools(scoped: ScopedConfig): void {
  const g = scoped.global;
  const globalSignature = g != null ? poolSignature(g) : "";
  for (let i = 0; i < scoped.rules.length; i++) {
    const cfg = scoped.rules[i].config;
    const signature = poolSignature(cfg);
    cfg.poolName = signature == globalSignature ? "" : hash64(signature).toString(16).substring(0, 8);
  }
}

// The provider type, id and the set of key hashes, in one string.
function poolSignature(cfg: PluginConfig): string {
  const ids = new Array<string>(cfg.apiTokens.length);
  for (let i = 0; i < cfg.apiTokens.length; i++) ids[i] = hash64(cfg.apiTokens[i]).toString(16);
  ids.sort();
  return cfg.providerType.toLowerCase() + "\n" + cfg.providerId + "\n" + ids.join(",");
}
