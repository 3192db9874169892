import { withoutParams } from "../../assembly/util/query_params";

const NAMES = ["key", "api-key", "api_key", "subscription-key"];

describe("credentials in the query string", () => {
  it("removes every credential parameter, keeps the rest byte for byte", () => {
    expect(withoutParams("/v1/chat/completions?key=sk-x", NAMES)).toBe("/v1/chat/completions");
    expect(withoutParams("/v1/chat?api-version=2024-10-21&api-key=sk-x&x=1", NAMES)).toBe("/v1/chat?api-version=2024-10-21&x=1");
    expect(withoutParams("/v1/chat?api_key=a&subscription-key=b&key", NAMES)).toBe("/v1/chat");
    expect(withoutParams("/v1/chat?a=%41&b", NAMES)).toBeNull();
    expect(withoutParams("/v1/chat", NAMES)).toBeNull();
  });

  it("matches names as a server reads them: percent-decoded, in any case", () => {
    expect(withoutParams("/v1/chat?%6Bey=sk-x&q=1", NAMES)).toBe("/v1/chat?q=1");
    expect(withoutParams("/v1/chat?API-Key=sk-x", NAMES)).toBe("/v1/chat");
    expect(withoutParams("/v1/chat?api%5Fkey=sk-x", NAMES)).toBe("/v1/chat");
    expect(withoutParams("/v1/chat?keys=1&monkey=2", NAMES)).toBeNull();
  });

  it("reads a long query linearly", () => {
    const many = "/v1/chat?" + "a=1&".repeat(5000) + "key=sk-x";
    expect(withoutParams(many, NAMES)!.length).toBe(many.length - 9);
  });
});
