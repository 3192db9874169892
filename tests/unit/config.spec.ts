import { parseConfig } from "../../assembly/plugin/config/config_parse";

function errorOf(text: string): string {
  const r = parseConfig(text);
  expect(r.config).toBeNull(text);
  return r.error;
}

function expectIncludes(actual: string, part: string): void {
  expect(actual.includes(part)).toBe(true, actual);
}

describe("configuration", () => {
  it("applies the documented defaults", () => {
    const r = parseConfig('{"provider":{"apiTokens":["sk-a","sk-b"]}}');
    const c = r.config!;
    expect(c.providerType).toBe("openai");
    expect(c.credentialHeader).toBe("authorization");
    expect(c.credentialPrefix).toBe("Bearer ");
    expect(c.apiTokens.length).toBe(2);
    expect(c.failover.enabled).toBe(false);
    expect(c.failover.failureThreshold).toBe(3);
    expect(c.failover.successThreshold).toBe(1);
    expect(c.failover.healthCheckInterval).toBe(5000);
    expect(c.failover.healthCheckTimeout).toBe(5000);
    expect(c.failover.cooldownDuration).toBe(0);
    expect(c.failover.failoverOnStatus.has(401)).toBe(true);
    expect(c.failover.failoverOnStatus.has(403)).toBe(true);
    expect(c.failover.failoverOnStatus.has(429)).toBe(true);
    expect(c.failover.failoverOnStatus.has(503)).toBe(true);
    expect(c.failover.failoverOnStatus.has(400)).toBe(false);
    expect(c.failover.failoverOnStatus.has(404)).toBe(false);
    expect(c.retry.enabled).toBe(false);
    expect(c.retry.maxRetries).toBe(1);
    expect(c.retry.retryTimeout).toBe(30000);
    expect(c.retry.retryOnStatus.has(429)).toBe(true);
    expect(c.retry.retryOnStatus.has(401)).toBe(true);
    expect(c.retry.retryOnStatus.has(403)).toBe(true);
    expect(c.retry.retryOnStatus.has(400)).toBe(false);
    expect(r.warnings.length).toBe(0);
  });

  it("picks the credential header from provider.type", () => {
    expect(parseConfig('{"provider":{"type":"azure","apiTokens":["k"]}}').config!.credentialHeader).toBe("api-key");
    expect(parseConfig('{"provider":{"type":"claude","apiTokens":["k"]}}').config!.credentialHeader).toBe("x-api-key");
    expect(parseConfig('{"provider":{"type":"anthropic","apiTokens":["k"]}}').config!.credentialHeader).toBe("x-api-key");
    expect(parseConfig('{"provider":{"type":"deepseek","apiTokens":["k"]}}').config!.credentialHeader).toBe("authorization");
  });

  it("warns once per unknown field and still accepts", () => {
    const r = parseConfig('{"x":1,"provider":{"apiTokens":["a"],"modelMapping":{},"failover":{"bogus":true}}}');
    expect(r.config).not.toBeNull();
    expect(r.warnings.length).toBe(3);
    expect(r.warnings[0]).toBe("unknown field x ignored");
    expect(r.warnings[1]).toBe("unknown field provider.modelMapping ignored");
    expect(r.warnings[2]).toBe("unknown field provider.failover.bogus ignored");
  });

  it("names the nearest known field for a typo", () => {
    const r = parseConfig('{"provider":{"apiTokens":["a"],"failOver":{},"retryOnFailure":{"enable":true}},"statusPth":"/s"}');
    expect(r.config).not.toBeNull();
    expect(r.warnings.length).toBe(3);
    expect(r.warnings[0]).toBe("unknown field statusPth ignored (did you mean statusPath?)");
    expect(r.warnings[1]).toBe("unknown field provider.failOver ignored (did you mean provider.failover?)");
    expect(r.warnings[2]).toBe("unknown field provider.retryOnFailure.enable ignored (did you mean provider.retryOnFailure.enabled?)");
  });

  it("refuses what can never work: status patterns no answer matches, a probe body that is not JSON", () => {
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"failoverOnStatus":["4xx"]}}}'),
      "provider.failover.failoverOnStatus[0] is not a valid status pattern: matches no HTTP status from 100 to 599");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"retryOnFailure":{"retryOnStatus":["5..", "700"]}}}'), "provider.retryOnFailure.retryOnStatus[1]");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"failureConditions":[{"status":["2XX"]}]}}}'), "provider.failover.failureConditions[0].status[0]");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"enabled":true,"healthCheck":{"body":"{not json"}}}}'),
      "provider.failover.healthCheck.body is not valid JSON");
    expect(parseConfig('{"provider":{"apiTokens":["a"],"failover":{"enabled":true,"healthCheck":{"body":"{\\"model\\":\\"m\\"}"}}}}').error).toBe("");
  });

  it("refuses bad configuration naming the field", () => {
    expectIncludes(errorOf("{bad"), "not valid JSON");
    expectIncludes(errorOf("[]"), "JSON object");
    expect(errorOf("{}")).toBe("provider is required (or providers with activeProviderId)");
    expect(errorOf('{"provider":{}}')).toBe("provider.apiTokens must be a non-empty array of strings");
    expect(errorOf('{"provider":{"apiTokens":[]}}')).toBe("provider.apiTokens must be a non-empty array of strings");
    expect(errorOf('{"provider":{"apiTokens":"sk"}}')).toBe("provider.apiTokens must be a non-empty array of strings");
    expect(errorOf('{"provider":{"apiTokens":["a",1]}}')).toBe("provider.apiTokens[1] must be a non-empty string");
    expect(errorOf('{"provider":{"apiTokens":["a",""]}}')).toBe("provider.apiTokens[1] must be a non-empty string");
    expect(errorOf('{"provider":{"apiTokens":["a","a"]}}')).toBe("provider.apiTokens[1] duplicates an earlier token");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"failureThreshold":-1}}}'), "provider.failover.failureThreshold must be an integer");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"healthCheckInterval":1.5}}}'), "provider.failover.healthCheckInterval must be an integer");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"enabled":true}}}'), "provider.failover.healthCheckModel is required");
    expect(errorOf('{"provider":{"apiTokens":["a"],"failover":{"enabled":"yes"}}}')).toBe("provider.failover.enabled must be true or false");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"failoverOnStatus":["5(("]}}}'), "provider.failover.failoverOnStatus[0] is not a valid status pattern");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"retryOnFailure":{"retryOnStatus":["[5"]}}}'), "provider.retryOnFailure.retryOnStatus[0]");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"retryOnFailure":{"maxRetries":-2}}}'), "provider.retryOnFailure.maxRetries");
    expectIncludes(errorOf('{"provider":{"apiTokens":["a"],"failover":{"failureConditions":[{}]}}}'), "provider.failover.failureConditions[0] must give at least one of");
  });

  it("accepts failover with only a cooldown, and failure conditions", () => {
    const r = parseConfig('{"provider":{"apiTokens":["a"],"failover":{"enabled":true,"cooldownDuration":1000,' +
      '"failureConditions":[{"status":["403"],"headers":["x-failure=true"]},{"status":["200"],"body":"No quota"}]}}}');
    const f = r.config!.failover;
    expect(f.failureConditions.length).toBe(2);
    expect(f.failureConditions[0].headers[0].name).toBe("x-failure");
    expect(f.failureConditions[0].headers[0].value).toBe("true");
    expect(f.failureConditions[1].body).toBe("No quota");
  });
});
