// Reads `provider.apiTokens`: each entry a key string, or an object with the key (`token`) or the
// name of the environment variable that holds it (`env`), and its options. An `env` key is read
// from the VM's environment after parsing (plugin/keys/env_keys.ts). Pure.
import { KeyOptions, PluginConfig } from "./config";
import { Validator, isHeaderSafe } from "./config_validator";
import { field } from "./schema";
import { JsonKind, JsonValue } from "../../util/json";

const KEY = "provider.apiTokens[]";
const F_ENV = field(KEY, "env");
const F_WEIGHT = field(KEY, "weight");
const F_RPM = field(KEY, "rpm");
const F_TPM = field(KEY, "tpm");
const F_BURST = field(KEY, "burst");
const F_TIER = field(KEY, "tier");
const F_RPD = field(KEY, "rpd");
const F_TPD = field(KEY, "tpd");
const F_GROUP = field(KEY, "group");

/** Fills cfg.apiTokens, cfg.keys and cfg.keyEnv from `apiTokens`. */
export function parseTokens(val: Validator, provider: JsonValue, cfg: PluginConfig): void {
  const v = provider.get("apiTokens");
  if (v == null || v.kind != JsonKind.Array || v.items.length == 0) {
    val.fail(val.base + ".apiTokens", "must be a non-empty array of strings");
    return;
  }
  for (let i = 0; i < v.items.length && val.ok(); i++) {
    const entry = val.base + ".apiTokens[" + i.toString() + "]";
    let t = v.items[i];
    const opts = new KeyOptions();
    let tokenField = entry;
    let env = "";
    let group = "";
    if (t.kind == JsonKind.Object) {
      const prefix = entry + ".";
      val.known(t, prefix, KEY);
      tokenField = prefix + "token";
      env = val.text(t, prefix, F_ENV);
      const token = t.get("token");
      if (val.ok() && token != null && env.length > 0) val.fail(prefix + "env", "cannot be given with token: the key is one or the other");
      else if (val.ok() && token == null && env.length == 0) val.fail(tokenField, "is required (or env: the environment variable that holds the key)");
      else if (val.ok() && env.length > 0 && !isVariableName(env)) val.fail(prefix + "env", "must be an environment variable name (letters, digits and _, not starting with a digit)");
      opts.weight = val.int(t, prefix, F_WEIGHT);
      opts.models = models(val, t, prefix + "models");
      opts.rpm = <i64>val.int(t, prefix, F_RPM);
      opts.tpm = <i64>val.int(t, prefix, F_TPM);
      opts.burst = <i64>val.int(t, prefix, F_BURST);
      opts.tier = val.int(t, prefix, F_TIER);
      opts.rpd = <i64>val.int(t, prefix, F_RPD);
      opts.tpd = <i64>val.int(t, prefix, F_TPD);
      group = val.text(t, prefix, F_GROUP);
      if (opts.burst > 0 && opts.rpm == 0) val.fail(entry + ".burst", "needs rpm (it caps the requests the rpm bucket holds)");
      if (token != null) t = token;
    }
    if (!val.ok()) return;
    if (env.length > 0) {
      // Read from the environment once the configuration has parsed; checked like a token then.
      cfg.apiTokens.push("");
      cfg.keys.push(opts);
      cfg.keyEnv.push(env);
      cfg.keyGroups.push(group);
      continue;
    }
    if (t.kind != JsonKind.String || t.str.length == 0) {
      val.fail(tokenField, "must be a non-empty string");
      return;
    }
    const problem = tokenProblem(t.str, cfg.apiTokens);
    if (problem.length > 0) {
      val.fail(tokenField, problem);
      return;
    }
    cfg.apiTokens.push(t.str);
    cfg.keys.push(opts);
    cfg.keyEnv.push("");
    cfg.keyGroups.push(group);
  }
}

/** Why `token` cannot be a key beside `others` ("" when it can). */
export function tokenProblem(token: string, others: string[]): string {
  if (!isHeaderSafe(token)) return "must not contain control characters or start or end with a space";
  if (others.includes(token)) return "duplicates an earlier token";
  return "";
}

function models(val: Validator, obj: JsonValue, name: string): string[] | null {
  const v = obj.get("models");
  if (v == null) return null;
  if (v.kind != JsonKind.Array || v.items.length == 0) { val.fail(name, "must be a non-empty array of model patterns"); return null; }
  const out: string[] = [];
  for (let i = 0; i < v.items.length; i++) {
    const m = v.items[i];
    if (m.kind != JsonKind.String || m.str.length == 0 || m.str.length > 256) {
      val.fail(name + "[" + i.toString() + "]", "must be a model name or pattern (1 to 256 characters; * and ? are wildcards)");
      return null;
    }
    out.push(m.str);
  }
  return out;
}

function isVariableName(s: string): bool {
  if (s.length == 0 || s.length > 256) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
    if (!letter && !(i > 0 && c >= 0x30 && c <= 0x39)) return false;
  }
  return true;
}
