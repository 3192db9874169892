// Judging an upstream answer against status sets and rules (failureConditions, successConditions).
// Pure: headers come in as a list, the body as text.
import { HeaderList } from "../runtime/headers";
import { ResponseRule } from "./config";
import { StatusSet } from "./status_pattern";

/** Verdict on a response before its body is known. */
export const enum Verdict { Success = 0, Failure = 1, NeedsBody = 2 }

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

/** Whether status and headers satisfy a rule (its body part is not looked at). */
export function headPartMatches(rule: ResponseRule, status: i32, headers: HeaderList | null): bool {
  const statuses = rule.statuses;
  if (statuses != null && !statuses.has(status)) return false;
  return headersMatch(rule, headers);
}

/** Whether any rule needs the response headers. */
export function rulesNeedHeaders(rules: ResponseRule[]): bool {
  for (let i = 0; i < rules.length; i++) if (rules[i].headers.length > 0) return true;
  return false;
}

/** Failure verdict from status and headers: Failure, Success, or NeedsBody when only a body rule can still match. */
export function judgeHead(statuses: StatusSet, rules: ResponseRule[], status: i32, headers: HeaderList | null): Verdict {
  if (statuses.has(status)) return Verdict.Failure;
  let needsBody = false;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (!headPartMatches(rule, status, headers)) continue;
    if (rule.body == null) return Verdict.Failure;
    needsBody = true;
  }
  return needsBody ? Verdict.NeedsBody : Verdict.Success;
}

/** Whether any rule matches completely, body included. */
export function anyRuleMatches(rules: ResponseRule[], status: i32, headers: HeaderList | null, body: string): bool {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (!headPartMatches(rule, status, headers)) continue;
    const text = rule.body;
    if (text == null || body.includes(text)) return true;
  }
  return false;
}

/** Whether a probe answer is a success: 2xx, or matching successConditions when any are set. */
export function probeSucceeded(rules: ResponseRule[], status: i32, headers: HeaderList | null, body: string): bool {
  if (rules.length == 0) return status >= 200 && status < 300;
  return anyRuleMatches(rules, status, headers, body);
}
