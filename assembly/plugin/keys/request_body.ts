// What the key choice and the retry read from a request body, read as the provider's JSON parser
// reads it (the last of duplicate keys, escaped key names decoded, Go's case-insensitive keys
// too): its model, whether it streams, and how many tokens it may use. Where parsers would read
// it differently, the reading that is safe for the pool wins: a model read two ways is refused,
// a stream asked for by any reading is a stream, the largest completion any reading asks counts.
// With `affinity.bodyField`, also the consumer named at that path. Pure: one linear pass over the
// bytes, and one over each enclosing object of a nested field.
import { parseJson } from "../../util/json";
import { ScanKind, ScanResult, numberCeil } from "../../util/json_scan";
import { readMembers } from "../../util/json_members";
import { hash64 } from "../../util/fingerprint";

const NAMES = ["model", "stream", "max_tokens", "max_completion_tokens"];
const MODEL = 0;
const STREAM = 1;
const MAX_TOKENS = 2;
const MAX_COMPLETION_TOKENS = 3;

/** What one request body asks for. */
export class RequestBody {
  /** The model (null: none, or not a string). */
  model: string | null = null;
  /** Parsers would read a different model (a duplicate in another case, "MODEL" alone): the request is refused. */
  modelAmbiguous: bool = false;
  /** It asks for a streamed answer. */
  stream: bool = false;
  /** The completion it asks for at most (max_completion_tokens or max_tokens; 0: not said). */
  completion: i64 = 0;
  /** The hash of the consumer named at the affinity field (0: none, or not a non-empty string). */
  affinity: u64 = 0;
}

/** Reads request bodies, and the consumer at `affinityPath` (member names from the top; null: none). */
export class BodyReader {
  private names: string[];
  constructor(private affinityPath: string[] | null) {
    this.names = affinityPath != null ? NAMES.concat([affinityPath[0]]) : NAMES;
  }

  /** Reads `body` (a JSON object; anything else asks for nothing). */
  read(body: ArrayBuffer): RequestBody {
    return readBody(body, this.names, this.affinityPath);
  }
}

/** Reads `body` (a JSON object; anything else asks for nothing). */
export function readRequestBody(body: ArrayBuffer): RequestBody {
  return readBody(body, NAMES, null);
}

// `names`: NAMES, then the affinity path's first name when there is a path.
function readBody(body: ArrayBuffer, names: string[], path: string[] | null): RequestBody {
  const out = new RequestBody();
  if (body.byteLength == 0) return out;
  const m = readMembers(body, body.byteLength, names);
  if (path != null) out.affinity = consumerAt(body, m.exact[NAMES.length], path);
  const exact = m.exact[MODEL];
  const folded = m.folded[MODEL];
  out.model = exact != null ? stringOf(body, exact) : null;
  const goModel = folded != null ? stringOf(body, folded) : null;
  if (goModel != out.model) {
    out.modelAmbiguous = true;
    out.model = null;
  }
  out.stream = isTrue(m.exact[STREAM]) || isTrue(m.folded[STREAM]);
  out.completion = max(max(count(body, m.exact[MAX_TOKENS]), count(body, m.folded[MAX_TOKENS])),
    max(count(body, m.exact[MAX_COMPLETION_TOKENS]), count(body, m.folded[MAX_COMPLETION_TOKENS])));
  return out;
}

/**
 * The hash of the string at `path` (its first name's value `first`), as Python and Node read it
 * (exact names, the last of duplicates); 0 when absent, not a string, or empty. It is the hash the
 * same identity gets in `affinity.header`, so a consumer keeps its key whichever way it is named.
 */
function consumerAt(body: ArrayBuffer, first: ScanResult | null, path: string[]): u64 {
  let r = first;
  for (let d = 1; d < path.length && r != null; d++) {
    const at = r!;
    if (at.kind != ScanKind.Other || load<u8>(changetype<usize>(body) + <usize>at.start) != 0x7b) return 0;
    r = readMembers(body, at.end, [path[d]], at.start).exact[0];
  }
  if (r == null) return 0;
  const who = stringOf(body, r!);
  return who != null && who.length > 0 ? hash64(who) | 1 : 0;
}

/** Whether a request body asks for a streamed answer (`"stream": true` at the top level, as any parser reads it). */
export function asksForStream(body: ArrayBuffer): bool {
  return readRequestBody(body).stream;
}

/** Tokens a prompt is expected to use: a quarter of the body's bytes (about what an OpenAI tokenizer gives for English and code). */
export function promptTokens(body: ArrayBuffer): i64 {
  return (<i64>body.byteLength + 3) / 4;
}

function isTrue(r: ScanResult | null): bool {
  return r != null && r.kind == ScanKind.True;
}

// A count the body gives as a number (any JSON form) or a string of one; 0 when it gives none.
function count(body: ArrayBuffer, r: ScanResult | null): i64 {
  if (r == null || (r.kind != ScanKind.Other && r.kind != ScanKind.String)) return 0;
  const v = numberCeil(body, r.start, r.end);
  return v > 0 ? v : 0;
}

// A string value with its escapes decoded (null: not a string, or malformed).
function stringOf(body: ArrayBuffer, r: ScanResult): string | null {
  if (r.kind != ScanKind.String) return null;
  const raw = String.UTF8.decodeUnsafe(changetype<usize>(body) + <usize>r.start, <usize>(r.end - r.start), false);
  if (!raw.includes("\\")) return raw;
  const parsed = parseJson("\"" + raw + "\"");
  return parsed != null ? parsed.str : null;
}
