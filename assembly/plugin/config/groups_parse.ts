// Reads `provider.groups`: accounts whose rate limits several keys share (OpenAI's and Anthropic's
// limits belong to the organization or project, not to the key), each with its rpm, tpm, rpd and
// tpd; and ties each key to the group its `apiTokens[].group` names. A key naming an unknown group,
// and a group no key names, are refused. Pure.
import { KeyOptions, PluginConfig } from "./config";
import { Validator } from "./config_validator";
import { field } from "./schema";
import { JsonKind, JsonValue } from "../../util/json";

const GROUP = "provider.groups.*";
/** The longest group name (it names the group in messages and the status document). */
const MAX_NAME = 64;

export function parseGroups(val: Validator, provider: JsonValue, cfg: PluginConfig): void {
  const groups = provider.get("groups");
  const base = val.base + ".groups";
  if (groups != null) {
    if (groups.kind != JsonKind.Object) {
      val.fail(base, "must be an object of groups by name, such as {\"org-a\": {\"rpm\": 500}}");
      return;
    }
    for (let g = 0; g < groups.keys.length && val.ok(); g++) {
      const name = groups.keys[g];
      const entry = base + "." + name;
      if (name.length == 0 || name.length > MAX_NAME || cfg.groupNames.includes(name)) {
        val.fail(entry, "must be named once, with 1 to " + MAX_NAME.toString() + " characters");
        return;
      }
      const obj = val.object(groups.items[g], entry);
      if (obj == null) return;
      val.known(obj, entry + ".", GROUP);
      const limits = new KeyOptions();
      limits.rpm = <i64>val.int(obj, entry + ".", field(GROUP, "rpm"));
      limits.tpm = <i64>val.int(obj, entry + ".", field(GROUP, "tpm"));
      limits.rpd = <i64>val.int(obj, entry + ".", field(GROUP, "rpd"));
      limits.tpd = <i64>val.int(obj, entry + ".", field(GROUP, "tpd"));
      if (val.ok() && limits.rpm == 0 && limits.tpm == 0 && limits.rpd == 0 && limits.tpd == 0) {
        val.fail(entry, "needs rpm, tpm, rpd or tpd: the limit its keys share");
      }
      cfg.groupNames.push(name);
      cfg.groups.push(limits);
    }
  }
  if (!val.ok()) return;
  const used = new Array<bool>(cfg.groups.length).fill(false);
  for (let i = 0; i < cfg.keyGroups.length; i++) {
    const name = cfg.keyGroups[i];
    if (name.length == 0) continue;
    const g = cfg.groupNames.indexOf(name);
    if (g < 0) {
      val.fail(val.base + ".apiTokens[" + i.toString() + "].group", "names no group of " + base + ": " + name);
      return;
    }
    cfg.keys[i].group = g;
    used[g] = true;
  }
  for (let g = 0; g < used.length; g++) {
    if (!used[g]) {
      val.fail(base + "." + cfg.groupNames[g], "is named by no key (apiTokens[].group)");
      return;
    }
  }
}
