// What an upstream answer means for the key that carried it: the one place that decides it, for
// the answers of the route, their bodies, retry answers and probe answers alike. Pure.
import { HeaderList } from "../../util/header_list";
import { FailoverConfig, ResponseRule } from "../config/config";
import { retryAfterDeadline } from "./retry_after";
import { is2xx } from "../../util/status";

/** Kinds of verdict. */
export const enum VerdictKind {
  /** The key worked: its consecutive failures reset. */
  Success = 0,
  /** The key failed; `retryAfterAt` > 0 benches it until then. */
  Failure = 1,
  /** Nobody's fault (Envoy answered itself, or the body cannot be judged): nothing is counted. */
  NotCounted = 2,
  /** Only a body rule can still decide: wait for the body. */
  NeedsBody = 3,
}

/** A verdict on one answer. */
export class Verdict {
  /** Index of the failure rule that matched (-1: none), named in the log line of an ejection. */
  rule: i32 = -1;
  constructor(public kind: VerdictKind, public retryAfterAt: i64 = 0) {}

  /**
   * A failure rule (failureConditions) matched: the operator says such an answer is the key's,
   * so it counts even when other keys answer the same.
   */
  get byRule(): bool { return this.rule >= 0; }
}

/** Where an answer came from; asked only when the verdict depends on it. */
export abstract class AnswerOrigin {
  /** True when the provider answered (not Envoy: connect failure, timeout, reset, a later filter). */
  abstract fromProvider(): bool;
}

const SUCCESS = new Verdict(VerdictKind.Success);
const NOT_COUNTED = new Verdict(VerdictKind.NotCounted);
const NEEDS_BODY = new Verdict(VerdictKind.NeedsBody);

function failure(status: i32, retryAfter: string | null, now: i64, rule: i32 = -1): Verdict {
  // Only a 429 may bench a key for a while; other statuses count towards failureThreshold.
  const v = new Verdict(VerdictKind.Failure, status == 429 ? retryAfterDeadline(retryAfter, now) : 0);
  v.rule = rule;
  return v;
}

function headersMatch(rule: ResponseRule, headers: HeaderList | null): bool {
  if (rule.headers.length == 0) return true;
  if (headers == null) return false;
  for (let i = 0; i < rule.headers.length; i++) {
    const cond = rule.headers[i];
    const v = headers.get(cond.name);
    if (v == null) return false;
    const want = cond.value;
    if (want != null && v != want) return false;
  }
  return true;
}

function headPartMatches(rule: ResponseRule, status: i32, headers: HeaderList | null): bool {
  const statuses = rule.statuses;
  if (statuses != null && !statuses.has(status)) return false;
  return headersMatch(rule, headers);
}

/** Whether any rule needs the answer's headers. */
export function rulesNeedHeaders(rules: ResponseRule[]): bool {
  for (let i = 0; i < rules.length; i++) if (rules[i].headers.length > 0) return true;
  return false;
}

/** Whether any rule searches the body. */
export function rulesNeedBody(rules: ResponseRule[]): bool {
  for (let i = 0; i < rules.length; i++) if (rules[i].body != null) return true;
  return false;
}

/**
 * Verdict from status and headers (`headers` may be null when no rule tests headers; `retryAfter`
 * is the answer's Retry-After value).
 */
export function judgeHead(f: FailoverConfig, status: i32, headers: HeaderList | null, retryAfter: string | null,
                          origin: AnswerOrigin, now: i64): Verdict {
  const byStatus = f.failoverOnStatus.has(status);
  let kind = byStatus ? VerdictKind.Failure : VerdictKind.Success;
  let rule = -1;
  // A rule names a failure even when its status alone fails (a 429 saying insufficient_quota): a
  // rule's failure counts whatever other keys answer, so it is looked for first.
  const rules = f.failureConditions;
  for (let i = 0; i < rules.length && rule < 0; i++) {
    if (!headPartMatches(rules[i], status, headers)) continue;
    if (rules[i].body == null) {
      kind = VerdictKind.Failure;
      rule = i;
    } else if (kind != VerdictKind.NeedsBody) {
      kind = VerdictKind.NeedsBody;
    }
  }
  // A success is not looked at further here: it only writes when the key had failures, and the
  // caller asks the origin then.
  if (kind == VerdictKind.Success) return SUCCESS;
  if (!origin.fromProvider()) return NOT_COUNTED;
  return kind == VerdictKind.Failure ? failure(status, retryAfter, now, rule) : NEEDS_BODY;
}

/**
 * Verdict once body bytes are known. `complete` is false when the answer ended early or only a
 * prefix was kept; `encoded` when the body is compressed and cannot be searched.
 */
export function judgeBody(f: FailoverConfig, status: i32, headers: HeaderList | null, retryAfter: string | null,
                          body: ArrayBuffer, used: i32, complete: bool, encoded: bool, now: i64): Verdict {
  if (encoded) return NOT_COUNTED;
  const rule = matchingRule(f.failureConditions, status, headers, body, used);
  if (rule >= 0) return failure(status, retryAfter, now, rule);
  if (f.failoverOnStatus.has(status)) return failure(status, retryAfter, now);
  // A partial body without a match proves nothing either way.
  return complete ? SUCCESS : NOT_COUNTED;
}

/** Verdict on status alone, when a body rule could have decided but no body follows. */
export function statusVerdict(f: FailoverConfig, status: i32, retryAfter: string | null, now: i64): Verdict {
  return f.failoverOnStatus.has(status) ? failure(status, retryAfter, now) : SUCCESS;
}

/** Verdict on a probe answer (null: the call failed or timed out, which is a failed probe). */
export function judgeProbe(f: FailoverConfig, status: i32, headers: HeaderList | null, body: ArrayBuffer, now: i64): Verdict {
  if (headers == null) return new Verdict(VerdictKind.Failure);
  // A failure rule says the key's answer is a failure whatever its status (a 200 saying "no
  // quota"): a probe answered that way neither brings a key back nor clears a suspect.
  const failed = matchingRule(f.failureConditions, status, headers, body, body.byteLength);
  if (failed >= 0) return failure(status, headers.get("retry-after"), now, failed);
  const rules = f.healthCheck.successConditions;
  const ok = rules.length == 0 ? is2xx(status) : matchingRule(rules, status, headers, body, body.byteLength) >= 0;
  return ok ? SUCCESS : failure(status, headers.get("retry-after"), now);
}

/** The first rule that matches completely (-1: none), its body text searched in the first `used` bytes of `body`. */
export function matchingRule(rules: ResponseRule[], status: i32, headers: HeaderList | null, body: ArrayBuffer, used: i32): i32 {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (!headPartMatches(rule, status, headers)) continue;
    const needle = rule.bodyBytes;
    if (needle == null || bytesInclude(body, used, needle)) return i;
  }
  return -1;
}

/** Whether `needle` occurs in the first `used` bytes of `hay` (needles are short: plain scan). */
export function bytesInclude(hay: ArrayBuffer, used: i32, needle: ArrayBuffer): bool {
  const n = needle.byteLength;
  if (n == 0) return true;
  const h = changetype<usize>(hay);
  const p = changetype<usize>(needle);
  const first = load<u8>(p);
  for (let i = 0; i + n <= used; i++) {
    if (load<u8>(h + i) != first) continue;
    if (memory.compare(h + i, p, n) == 0) return true;
  }
  return false;
}
