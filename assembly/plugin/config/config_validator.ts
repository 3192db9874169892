// Reads typed fields out of the configuration's JSON, collecting the first error (naming the
// field) and the warnings for unknown fields. Pure.
import { HeaderCondition, ResponseRule } from "./config";
import { JsonKind, JsonValue, readJson } from "../../util/json";
import { Field, keysOf } from "./schema";
import { nearestName } from "../../util/nearest_name";
import { StatusSet } from "../../util/status_pattern";

/** An absent section reads as this empty one: every field then takes its schema default. */
export const EMPTY_SECTION: JsonValue = readJson("{}").value!;

/** A strings or patterns field's default, read from its JSON text. */
export function defaultStrings(f: Field): string[] {
  const out: string[] = [];
  const doc = readJson(f.dflt.length > 0 ? f.dflt : "[]").value;
  if (doc == null) return out;
  for (let i = 0; i < doc.items.length; i++) out.push(doc.items[i].str);
  return out;
}

export class Validator {
  /** The provider block's field name in messages: `provider`, or `providers[i]`. */
  base: string = "provider";
  error: string = "";
  warnings: string[] = [];

  ok(): bool { return this.error.length == 0; }

  fail(field: string, what: string): void {
    if (this.error.length == 0) this.error = field + " " + what;
  }

  object(v: JsonValue | null, field: string): JsonValue | null {
    if (v == null) return null;
    if (v.kind != JsonKind.Object) { this.fail(field, "must be an object"); return null; }
    return v;
  }

  /** Warns about the fields of `obj` (the schema's object `object`, named `prefix` in messages) the schema does not list. */
  known(obj: JsonValue, prefix: string, object: string): void {
    this.warnUnknown(obj, prefix, keysOf(object));
  }

  /** The integer field `f` of `obj` (named `prefix` + its key), its schema default and limits; absent without a default: 0. */
  int(obj: JsonValue, prefix: string, f: Field): i32 {
    return this.integer(obj, f.key, prefix + f.key, f.dflt.length > 0 ? I32.parseInt(f.dflt) : 0, f.min, f.max);
  }

  /** The boolean field `f` of `obj`. */
  flag(obj: JsonValue, prefix: string, f: Field): bool {
    return this.bool(obj, f.key, prefix + f.key, f.dflt == "true");
  }

  /** The string field `f` of `obj`; absent without a default: "". */
  text(obj: JsonValue, prefix: string, f: Field): string {
    return this.string(obj, f.key, prefix + f.key, f.dflt.length >= 2 ? f.dflt.substring(1, f.dflt.length - 1) : "");
  }

  /** The status patterns field `f` of `obj` (null: the section is absent), its schema default when absent. */
  patterns(obj: JsonValue | null, prefix: string, f: Field): StatusSet {
    return this.statusSet(obj, f.key, prefix + f.key, defaultStrings(f));
  }

  warnUnknown(obj: JsonValue, prefix: string, known: string[]): void {
    for (let i = 0; i < obj.keys.length; i++) {
      const key = obj.keys[i];
      if (known.includes(key)) continue;
      const near = nearestName(key, known);
      this.warnings.push("unknown field " + prefix + key + " ignored" + (near.length > 0 ? " (did you mean " + prefix + near + "?)" : ""));
    }
  }

  bool(obj: JsonValue, key: string, field: string, dflt: bool): bool {
    const v = obj.get(key);
    if (v == null) return dflt;
    if (v.kind != JsonKind.Bool) { this.fail(field, "must be true or false"); return dflt; }
    return v.bool;
  }

  integer(obj: JsonValue, key: string, field: string, dflt: i32, min: f64, max: f64): i32 {
    const v = obj.get(key);
    if (v == null) return dflt;
    if (v.kind != JsonKind.Number || v.num != Math.floor(v.num) || v.num < min || v.num > max) {
      this.fail(field, "must be an integer from " + (<i64>min).toString() + " to " + (<i64>max).toString());
      return dflt;
    }
    return <i32>v.num;
  }

  string(obj: JsonValue, key: string, field: string, dflt: string): string {
    const v = obj.get(key);
    if (v == null) return dflt;
    if (v.kind != JsonKind.String) { this.fail(field, "must be a string"); return dflt; }
    return v.str;
  }

  statusSet(obj: JsonValue | null, key: string, field: string, dflt: string[]): StatusSet {
    const set = new StatusSet();
    let v: JsonValue | null = null;
    if (obj != null) v = obj.get(key);
    if (v == null) {
      for (let i = 0; i < dflt.length; i++) set.addPattern(dflt[i]);
      return set;
    }
    if (v.kind != JsonKind.Array) { this.fail(field, "must be an array of status patterns"); return set; }
    for (let i = 0; i < v.items.length; i++) {
      const item = v.items[i];
      let text = "";
      if (item.kind == JsonKind.String) text = item.str;
      else if (item.kind == JsonKind.Number && item.num == Math.floor(item.num) && item.num >= 0 && item.num < 1000) text = (<i32>item.num).toString();
      else { this.fail(field + "[" + i.toString() + "]", "must be a status pattern string"); return set; }
      const error = set.addPattern(text);
      if (error.length > 0) { this.fail(field + "[" + i.toString() + "]", "is not a valid status pattern: " + error); return set; }
    }
    return set;
  }

  rules(obj: JsonValue, key: string, field: string): ResponseRule[] {
    const out: ResponseRule[] = [];
    const v = obj.get(key);
    if (v == null) return out;
    if (v.kind != JsonKind.Array) { this.fail(field, "must be an array of rules"); return out; }
    for (let i = 0; i < v.items.length && this.ok(); i++) {
      const name = field + "[" + i.toString() + "]";
      const r = this.object(v.items[i], name);
      if (r == null) { this.fail(name, "must be an object"); return out; }
      this.known(r, name + ".", "provider.failover.failureConditions[]");
      const rule = new ResponseRule();
      if (r.get("status") != null) rule.statuses = this.statusSet(r, "status", name + ".status", []);
      const hs = r.get("headers");
      if (hs != null) {
        if (hs.kind != JsonKind.Array) { this.fail(name + ".headers", "must be an array of strings"); return out; }
        for (let j = 0; j < hs.items.length; j++) {
          const h = hs.items[j];
          if (h.kind != JsonKind.String || h.str.length == 0 || h.str.charAt(0) == "=") {
            this.fail(name + ".headers[" + j.toString() + "]", "must be \"name\" or \"name=value\"");
            return out;
          }
          const eq = h.str.indexOf("=");
          rule.headers.push(eq < 0
            ? new HeaderCondition(h.str.trim().toLowerCase(), null)
            : new HeaderCondition(h.str.substring(0, eq).trim().toLowerCase(), h.str.substring(eq + 1)));
        }
      }
      const body = r.get("body");
      if (body != null) {
        if (body.kind != JsonKind.String || body.str.length == 0) { this.fail(name + ".body", "must be a non-empty string"); return out; }
        rule.body = body.str;
        rule.bodyBytes = String.UTF8.encode(body.str);
      }
      rule.dead = this.bool(r, "dead", name + ".dead", false);
      if (rule.statuses == null && rule.headers.length == 0 && rule.body == null) {
        this.fail(name, "must give at least one of status, headers, body");
        return out;
      }
      out.push(rule);
    }
    return out;
  }
}

// A token is sent as a header value: CR, LF, NUL and other control characters would be refused
// by the host or split the header, and surrounding spaces would be trimmed away.
export function isHeaderSafe(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return s.charCodeAt(0) != 0x20 && s.charCodeAt(s.length - 1) != 0x20;
}

// Visible ASCII only: what a client can send in `Authorization: Bearer <token>` and compare exactly.
export function isPrintable(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/** Whether `s` is a header name a client may send (letters, digits, `-`, `_`, `.`), at most 128 characters. */
export function isHeaderName(s: string): bool {
  if (s.length == 0 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f || c == 0x2e;
    if (!ok) return false;
  }
  return true;
}
