import { parseConfig } from "../../assembly/plugin/config/config_parse";
import { globMatch } from "../../assembly/util/glob";
import { decodePool, encodePool } from "../../assembly/plugin/pool/pool_codec";
import { PoolState, TokenState } from "../../assembly/plugin/pool/pool_state";
import { parseDuration, parseRfc3339, requestsBackAt, resetAt } from "../../assembly/plugin/budget/rate_limit";

function errorOf(text: string): string { return parseConfig(text).error; }

describe("per-key options", () => {
  it("accepts strings and objects side by side, with defaults", () => {
    const r = parseConfig("{\"provider\":{\"apiTokens\":[\"sk-a\",{\"token\":\"sk-b\",\"weight\":3,\"models\":[\"gpt-4o*\"]}]}}");
    expect(r.error).toBe("");
    const c = r.config!;
    expect(c.apiTokens).toStrictEqual(["sk-a", "sk-b"]);
    expect(c.keys[0].weight).toBe(1);
    expect(c.keys[0].models).toBeNull();
    expect(c.keys[1].weight).toBe(3);
    expect(c.keys[1].models!).toStrictEqual(["gpt-4o*"]);
  });

  it("refuses bad entries naming the field", () => {
    expect(errorOf("{\"provider\":{\"apiTokens\":[{\"weight\":2}]}}")).toBe("provider.apiTokens[0].token is required (or env: the environment variable that holds the key)");
    expect(errorOf("{\"provider\":{\"apiTokens\":[\"a\",{\"token\":\"b\",\"weight\":0}]}}")).toBe("provider.apiTokens[1].weight must be an integer from 1 to 1000");
    expect(errorOf("{\"provider\":{\"apiTokens\":[{\"token\":\"b\",\"models\":[]}]}}")).toBe("provider.apiTokens[0].models must be a non-empty array of model patterns");
    expect(errorOf("{\"provider\":{\"apiTokens\":[{\"token\":\"b\",\"models\":[\"\"]}]}}").startsWith("provider.apiTokens[0].models[0]")).toBe(true);
    expect(errorOf("{\"provider\":{\"apiTokens\":[\"a\",{\"token\":\"a\"}]}}")).toBe("provider.apiTokens[1].token duplicates an earlier token");
    expect(errorOf("{\"provider\":{\"apiTokens\":[{\"token\":\"b\",\"rpm\":0}]}}")).toBe("provider.apiTokens[0].rpm must be an integer from 1 to 1000000000");
  });
});

describe("model patterns", () => {
  it("match whole names with * and ?", () => {
    expect(globMatch("gpt-4o*", "gpt-4o")).toBe(true);
    expect(globMatch("gpt-4o*", "gpt-4o-mini")).toBe(true);
    expect(globMatch("gpt-4o*", "gpt-4")).toBe(false);
    expect(globMatch("o?-mini", "o3-mini")).toBe(true);
    expect(globMatch("o?-mini", "o33-mini")).toBe(false);
    expect(globMatch("*-mini", "gpt-4o-mini")).toBe(true);
    expect(globMatch("claude-*-sonnet*", "claude-3-5-sonnet-latest")).toBe(true);
    expect(globMatch("exact", "exactly")).toBe(false);
  });
});

describe("rate-limit resets", () => {
  it("reads OpenAI durations", () => {
    expect(parseDuration("1s")).toBe(1000);
    expect(parseDuration("6m0s")).toBe(360000);
    expect(parseDuration("20ms")).toBe(20);
    expect(parseDuration("2m3.5s")).toBe(123500);
    expect(parseDuration("1h")).toBe(3600000);
    expect(parseDuration("0.5s")).toBe(500);
    expect(parseDuration("99h")).toBe(3600000);
    expect(parseDuration("soon")).toBe(-1);
    expect(parseDuration("1x")).toBe(-1);
  });

  it("reads Anthropic RFC 3339 times", () => {
    expect(parseRfc3339("1970-01-01T00:00:01Z")).toBe(1000);
    expect(parseRfc3339("2026-11-22T05:01:02.250Z")).toBe(1795323662250);
    expect(parseRfc3339("2026-11-22T06:01:02+01:00")).toBe(1795323662000);
    expect(parseRfc3339("2026-11-22 05:01:02")).toBe(-1);
    expect(resetAt("2026-11-22T05:01:02Z", true, 1795323660000)).toBe(1795323662000);
    expect(resetAt("2s", false, 1000)).toBe(3000);
    expect(resetAt("7", false, 1000)).toBe(8000);
    expect(resetAt(null, false, 1000)).toBe(0);
  });

  it("takes one request back after reset / limit from a bucket refilled continuously, and waits for a window's reset", () => {
    // 40 a minute, the bucket full again in 60 s: one request back in 1.5 s.
    expect(requestsBackAt(61_000, 1000, 40, true)).toBe(2500);
    expect(requestsBackAt(61_000, 1000, 40, false)).toBe(61_000);
    expect(requestsBackAt(61_000, 1000, 0, true)).toBe(61_000);
    expect(requestsBackAt(1001, 1000, 40, true)).toBe(1001);
    expect(requestsBackAt(0, 1000, 40, true)).toBe(0);
  });
});

describe("pool record with rate limits", () => {
  it("carries limitedUntil only while set, and reads records written without it", () => {
    const p = new PoolState();
    p.tokens.push(TokenState.fresh(1));
    p.tokens.push(TokenState.fresh(2));
    expect(encodePool(p)).toBe("1,0,0,0,0,0,0;2,0,0,0,0,0,0");
    p.limitUntil(1, 0x1234);
    const text = encodePool(p);
    expect(text).toBe("1,0,0,0,0,0,0;2,0,0,0,0,0,0,1234,3e8");
    const back = decodePool(text)!;
    expect(back.tokens[0].limitedUntil).toBe(0);
    expect(back.tokens[1].limitedUntil).toBe(0x1234);
    expect(back.tokens[1].isLimited(0x1000)).toBe(true);
    expect(back.tokens[1].isLimited(0x1234)).toBe(false);
    expect(decodePool("1,0,0,0,0,0,0,1")).toBeNull();
    expect(decodePool("1,0,0,0,0,0,0,0,1f4")!.tokens[0].rateFactor).toBe(500);
    expect(decodePool("1,0,0,0,0,0,0,0,0")).toBeNull();
  });
});

describe("Higress providers shape", () => {
  it("uses the block named by activeProviderId, naming its fields as providers[i]", () => {
    const r = parseConfig("{\"activeProviderId\":\"b\",\"providers\":[{\"id\":\"a\",\"apiTokens\":[\"x\"]},{\"id\":\"b\",\"type\":\"azure\",\"apiTokens\":[\"y\",\"z\"]}]}");
    expect(r.error).toBe("");
    expect(r.config!.providerType).toBe("azure");
    expect(r.config!.providerId).toBe("b");
    expect(r.config!.apiTokens).toStrictEqual(["y", "z"]);
    expect(errorOf("{\"activeProviderId\":\"b\",\"providers\":[{\"id\":\"b\",\"apiTokens\":[]}]}")).toBe("providers[0].apiTokens must be a non-empty array of strings");
    expect(errorOf("{\"activeProviderId\":\"c\",\"providers\":[{\"id\":\"b\",\"apiTokens\":[\"y\"]}]}")).toBe("activeProviderId names no entry of providers (no provider has that id)");
    expect(errorOf("{\"providers\":[{\"id\":\"b\",\"apiTokens\":[\"y\"]}]}")).toBe("activeProviderId is required with providers (the id of the provider to use)");
    expect(errorOf("{}")).toBe("provider is required (or providers with activeProviderId)");
  });
});
