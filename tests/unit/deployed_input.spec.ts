import { parseConfig } from "../../assembly/plugin/config/config_parse";
import { parseJson } from "../../assembly/util/json";
import { ScanKind } from "../../assembly/util/json_scan";
import { readMembers } from "../../assembly/util/json_members";
import { ProbeScheduler } from "../../assembly/plugin/pool/probe";
import { MAX_RETRY_AFTER_MS, retryAfterDeadline } from "../../assembly/plugin/judge/retry_after";
import { RouteShape } from "../../assembly/plugin/route/route_shape";
import { HeaderList } from "../../assembly/util/header_list";

function errorOf(text: string): string { return parseConfig(text).error; }
function bytes(s: string): ArrayBuffer { return String.UTF8.encode(s); }

describe("adversarial configuration", () => {
  it("refuses tokens with control characters or surrounding spaces, naming the entry", () => {
    expect(errorOf("{\"provider\":{\"apiTokens\":[\"ok\",\"sk-a\\r\\nx-evil: 1\"]}}")).toBe("provider.apiTokens[1] must not contain control characters or start or end with a space");
    expect(errorOf("{\"provider\":{\"apiTokens\":[\"sk\\u0000a\"]}}").startsWith("provider.apiTokens[0]")).toBe(true);
    expect(errorOf("{\"provider\":{\"apiTokens\":[\" sk-a\"]}}").startsWith("provider.apiTokens[0]")).toBe(true);
  });

  it("refuses a pattern of 3000 '(' instead of recursing that deep", () => {
    const deep = "(".repeat(3000);
    const e = errorOf("{\"provider\":{\"apiTokens\":[\"a\"],\"failover\":{\"failoverOnStatus\":[\"" + deep + "\"]}}}");
    expect(e.startsWith("provider.failover.failoverOnStatus[0] is not a valid status pattern")).toBe(true);
    const nested = "(".repeat(17) + "5" + ")".repeat(17);
    expect(errorOf("{\"provider\":{\"apiTokens\":[\"a\"],\"failover\":{\"failoverOnStatus\":[\"" + nested + "\"]}}}").includes("nested deeper")).toBe(true);
  });
});

describe("Retry-After beyond 32 bits", () => {
  it("caps 4294967306 seconds at an hour instead of wrapping", () => {
    expect(retryAfterDeadline("4294967306", 1000)).toBe(1000 + MAX_RETRY_AFTER_MS);
    expect(retryAfterDeadline("999999999999999999", 1000)).toBe(1000 + MAX_RETRY_AFTER_MS);
  });
});

describe("linear JSON", () => {
  it("decodes a string of many escapes", () => {
    const n = 20000;
    const doc = parseJson("{\"p\":\"" + "a\\n".repeat(n) + "\\u00e9\"}")!;
    expect(doc.get("p")!.str.length).toBe(2 * n + 1);
    expect(doc.get("p")!.str.charCodeAt(2 * n)).toBe(0xe9);
  });

  it("finds top-level members past nested values and escaped quotes, in one pass", () => {
    const body = bytes("{\"messages\":[{\"content\":\"say \\\"stream\\\":true {[\"}],\"x\":{\"stream\":true},\"stream\" : true}");
    expect(readMembers(body, body.byteLength, ["stream"]).exact[0]!.kind).toBe(ScanKind.True);
    const model = bytes("{\"model\":\"gpt-4o\",\"stream\":false}");
    const m = readMembers(model, model.byteLength, ["model", "stream"]);
    expect(m.exact[0]!.kind).toBe(ScanKind.String);
    expect(String.UTF8.decode(model.slice(m.exact[0]!.start, m.exact[0]!.end))).toBe("gpt-4o");
    expect(m.exact[1]!.kind).toBe(ScanKind.False);
    expect(m.invalid).toBe(false);
    expect(readMembers(bytes("{\"a\":1}"), 7, ["stream"]).exact[0]).toBeNull();
    expect(readMembers(bytes("{\"a\":\"unterminated"), 17, ["stream"]).invalid).toBe(true);
    expect(readMembers(bytes("not json"), 8, ["stream"]).invalid).toBe(true);
  });
});

describe("probe scheduler", () => {
  it("resumes after the last token probed, so a cap never starves the tail", () => {
    const s = new ProbeScheduler();
    const due: bool[] = [true, true, true, true, false, false, true, true];
    expect(s.next(due, 4)).toStrictEqual([0, 1, 2, 3]);
    expect(s.next(due, 4)).toStrictEqual([6, 7, 0, 1]);
    expect(s.next(due, 1)).toStrictEqual([2]);
  });
});

describe("route shape", () => {
  it("keeps what the route changed, added and removed, never credentials or the router's bookkeeping", () => {
    const client = new HeaderList();
    client.add(":authority", "gw.example");
    client.add(":path", "/openai/v1/chat/completions?x=1");
    client.add("x-keep", "same");
    client.add("x-drop", "gone");
    client.add("x-over", "client");
    client.add("authorization", "Bearer client-key");
    const sent = new HeaderList();
    sent.add(":authority", "api.provider.test");
    sent.add(":path", "/v1/chat/completions?x=1");
    sent.add("x-keep", "same");
    sent.add("x-over", "route");
    sent.add("x-added", "yes");
    sent.add("authorization", "Bearer sk-secret");
    sent.add("x-envoy-original-path", "/openai/v1/chat/completions?x=1");
    const shape = RouteShape.derive(client, sent, 5)!;
    expect(shape.authority).toBe("api.provider.test");
    expect(shape.path).toBe("/v1/chat/completions");
    expect(shape.changed.get("x-over")).toBe("route");
    expect(shape.changed.get("x-added")).toBe("yes");
    expect(shape.changed.get("x-keep")).toBeNull();
    expect(shape.changed.get("authorization")).toBeNull();
    expect(shape.changed.get("x-envoy-original-path")).toBeNull();
    expect(shape.removed).toStrictEqual(["x-drop"]);
  });
});
