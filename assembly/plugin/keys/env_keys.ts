// Keys given as environment variables (`apiTokens[i].env`), read from the VM's environment when
// the configuration is applied: a missing or empty variable refuses the configuration, naming the
// field and the variable (never a value).
import { PluginConfig } from "../config/config";
import { tokenProblem } from "../config/tokens_parse";
import { environmentVariable } from "../../runtime/env";

/** Fills in the keys `cfg` reads from the environment; "" or why the configuration is refused. */
export function readEnvironmentKeys(cfg: PluginConfig): string {
  for (let i = 0; i < cfg.keyEnv.length; i++) {
    const name = cfg.keyEnv[i];
    if (name.length == 0) continue;
    const field = cfg.providerField + ".apiTokens[" + i.toString() + "].env";
    const value = environmentVariable(name);
    if (value == null || value.length == 0) {
      return field + " names " + name + ", which the VM's environment does not have: list it in the Wasm filter's " +
        "vm_config.environment_variables (host_env_keys, or key_values)";
    }
    const others = cfg.apiTokens.slice(0, i).concat(cfg.apiTokens.slice(i + 1));
    const problem = tokenProblem(value, others);
    if (problem.length > 0) return field + " (" + name + "): the key " + problem;
    cfg.apiTokens[i] = value;
  }
  return "";
}
