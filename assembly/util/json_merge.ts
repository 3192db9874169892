// One JSON object read over another: what a Higress rule's configuration means (a field the rule
// leaves out keeps the global value). Pure.
import { JsonKind, JsonValue } from "./json";

/**
 * `over` read over `base`: objects merge member by member, recursively; any other value in
 * `over` (an array, a string, a number) replaces the one in `base`. Members named in `drop` are
 * left out at the top level.
 */
export function mergeJson(base: JsonValue | null, over: JsonValue, drop: string[] = []): JsonValue {
  if (over.kind != JsonKind.Object || base == null || base.kind != JsonKind.Object) return over;
  const out = new JsonValue();
  out.kind = JsonKind.Object;
  for (let i = 0; i < base.keys.length; i++) {
    const key = base.keys[i];
    if (drop.includes(key) || over.get(key) != null) continue;
    out.keys.push(key);
    out.items.push(base.items[i]);
  }
  for (let i = 0; i < over.keys.length; i++) {
    const key = over.keys[i];
    if (drop.includes(key) || out.keys.includes(key)) continue;
    const mine = over.get(key)!;
    out.keys.push(key);
    out.items.push(mergeJson(base.get(key), mine));
  }
  return out;
}

/** `v` without the top-level members named in `drop` (an object), or `v` itself. */
export function withoutMembers(v: JsonValue, drop: string[]): JsonValue {
  if (v.kind != JsonKind.Object) return v;
  const out = new JsonValue();
  out.kind = JsonKind.Object;
  for (let i = 0; i < v.keys.length; i++) {
    if (drop.includes(v.keys[i])) continue;
    out.keys.push(v.keys[i]);
    out.items.push(v.items[i]);
  }
  return out;
}
