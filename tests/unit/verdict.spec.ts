import { parseConfig } from "../../assembly/plugin/config/config_parse";
import { FailoverConfig } from "../../assembly/plugin/config/config";
import { AnswerOrigin, VerdictKind, judgeBody, judgeHead, judgeProbe, rulesNeedBody, rulesNeedHeaders } from "../../assembly/plugin/judge/verdict";
import { HeaderList } from "../../assembly/util/header_list";

class Provider extends AnswerOrigin { fromProvider(): bool { return true; } }
class Envoy extends AnswerOrigin { fromProvider(): bool { return false; } }
const PROVIDER = new Provider();
const ENVOY = new Envoy();
const NOW: i64 = 1_700_000_000_000;

function failover(extra: string): FailoverConfig {
  const r = parseConfig("{\"provider\":{\"apiTokens\":[\"sk-a\",\"sk-b\"],\"failover\":{\"enabled\":true,\"healthCheckModel\":\"m\"" + extra + "}}}");
  return r.config!.failover;
}

describe("verdict on an answer's head", () => {
  it("counts the default statuses against the key, a 2xx or a 400 for it", () => {
    const f = failover("");
    expect(judgeHead(f, 200, null, null, PROVIDER, NOW).kind).toBe(VerdictKind.Success);
    expect(judgeHead(f, 400, null, null, PROVIDER, NOW).kind).toBe(VerdictKind.Success);
    expect(judgeHead(f, 401, null, null, PROVIDER, NOW).kind).toBe(VerdictKind.Failure);
    expect(judgeHead(f, 503, null, null, PROVIDER, NOW).kind).toBe(VerdictKind.Failure);
    expect(judgeHead(f, 503, null, null, PROVIDER, NOW).byRule).toBe(false);
  });

  it("counts nothing Envoy made itself", () => {
    expect(judgeHead(failover(""), 503, null, null, ENVOY, NOW).kind).toBe(VerdictKind.NotCounted);
  });

  it("benches a 429 until its Retry-After, and only a 429", () => {
    const f = failover("");
    expect(judgeHead(f, 429, null, "2", PROVIDER, NOW).retryAfterAt).toBe(NOW + 2000);
    expect(judgeHead(f, 503, null, "2", PROVIDER, NOW).retryAfterAt).toBe(0);
  });

  it("applies failureConditions by status and header, and waits for the body when a rule reads it", () => {
    const f = failover(",\"failureConditions\":[{\"status\":[\"200\"],\"headers\":[\"x-quota=0\"]},{\"status\":[\"400\"],\"body\":\"insufficient_quota\"}]");
    expect(rulesNeedHeaders(f.failureConditions)).toBe(true);
    expect(rulesNeedBody(f.failureConditions)).toBe(true);
    const h = new HeaderList();
    h.add("x-quota", "0");
    const byHeader = judgeHead(f, 200, h, null, PROVIDER, NOW);
    expect(byHeader.kind).toBe(VerdictKind.Failure);
    expect(byHeader.byRule).toBe(true);
    expect(judgeHead(f, 200, new HeaderList(), null, PROVIDER, NOW).kind).toBe(VerdictKind.Success);
    expect(judgeHead(f, 400, null, null, PROVIDER, NOW).kind).toBe(VerdictKind.NeedsBody);
  });
});

describe("verdict on an answer's body", () => {
  it("matches the rule's text, proves nothing on a partial or compressed body", () => {
    const f = failover(",\"failureConditions\":[{\"status\":[\"400\"],\"body\":\"insufficient_quota\"}]");
    const quota = String.UTF8.encode("{\"error\":{\"code\":\"insufficient_quota\"}}");
    const other = String.UTF8.encode("{\"error\":{\"code\":\"bad_request\"}}");
    const hit = judgeBody(f, 400, null, null, quota, quota.byteLength, true, false, NOW);
    expect(hit.kind).toBe(VerdictKind.Failure);
    expect(hit.byRule).toBe(true);
    expect(judgeBody(f, 400, null, null, other, other.byteLength, true, false, NOW).kind).toBe(VerdictKind.Success);
    expect(judgeBody(f, 400, null, null, other, other.byteLength, false, false, NOW).kind).toBe(VerdictKind.NotCounted);
    expect(judgeBody(f, 400, null, null, quota, quota.byteLength, true, true, NOW).kind).toBe(VerdictKind.NotCounted);
  });
});

describe("verdict on a probe", () => {
  it("needs a 2xx by default, the configured conditions otherwise; a failed call is a failed probe", () => {
    const plain = failover("");
    const headers = new HeaderList();
    expect(judgeProbe(plain, 200, headers, new ArrayBuffer(0), NOW).kind).toBe(VerdictKind.Success);
    expect(judgeProbe(plain, 500, headers, new ArrayBuffer(0), NOW).kind).toBe(VerdictKind.Failure);
    expect(judgeProbe(plain, 0, null, new ArrayBuffer(0), NOW).kind).toBe(VerdictKind.Failure);
    const ruled = failover(",\"healthCheck\":{\"successConditions\":[{\"status\":[\"400\"],\"body\":\"max_tokens\"}]}");
    const body = String.UTF8.encode("{\"error\":\"max_tokens too small\"}");
    expect(judgeProbe(ruled, 400, headers, body, NOW).kind).toBe(VerdictKind.Success);
    expect(judgeProbe(ruled, 200, headers, body, NOW).kind).toBe(VerdictKind.Failure);
  });
});
