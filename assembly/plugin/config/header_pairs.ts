// Reads a list of "name=value" header strings (a probe's or a notification's extra headers). Pure.
import { Validator, isHeaderName, isPrintable } from "./config_validator";
import { JsonKind, JsonValue } from "../../util/json";

/** Adds the pairs of the list `key` of `obj` (named `name` in messages) to `names` and `values`; refuses a malformed one. */
export function readHeaderPairs(val: Validator, obj: JsonValue, key: string, name: string, names: string[], values: string[]): void {
  const v = obj.get(key);
  if (v == null) return;
  if (v.kind != JsonKind.Array) { val.fail(name, "must be an array of \"name=value\" strings"); return; }
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    const eq = item.kind == JsonKind.String ? item.str.indexOf("=") : -1;
    const header = eq > 0 ? item.str.substring(0, eq).trim().toLowerCase() : "";
    if (eq <= 0 || !isHeaderName(header) || !isPrintable(item.str.substring(eq + 1).replaceAll(" ", "_"))) {
      val.fail(name + "[" + i.toString() + "]", "must be \"name=value\" (a header name, then a value without control characters)");
      return;
    }
    names.push(header);
    values.push(item.str.substring(eq + 1));
  }
}
