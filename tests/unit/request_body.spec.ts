import { readRequestBody } from "../../assembly/plugin/keys/request_body";
import { numberCeil } from "../../assembly/util/json_scan";

function bytes(s: string): ArrayBuffer { return String.UTF8.encode(s); }

describe("a request body read as providers' parsers read it", () => {
  it("takes the last of duplicate keys, as Python, Node and Go do", () => {
    expect(readRequestBody(bytes("{\"model\":\"gpt-4o-mini\",\"model\":\"o1-pro\"}")).model).toBe("o1-pro");
    expect(readRequestBody(bytes("{\"stream\":true,\"stream\":false}")).stream).toBe(false);
    expect(readRequestBody(bytes("{\"stream\":false,\"stream\":true}")).stream).toBe(true);
  });

  it("decodes escaped key names", () => {
    expect(readRequestBody(bytes("{\"model\":\"gpt-4o-mini\",\"\\u006dodel\":\"o1-pro\"}")).model).toBe("o1-pro");
    expect(readRequestBody(bytes("{\"\\u0073tream\":true}")).stream).toBe(true);
    expect(readRequestBody(bytes("{\"model\":\"a\\u002db\"}")).model).toBe("a-b");
  });

  it("refuses a model named in another case too (Go reads MODEL, Python does not); a stream any parser sees is a stream", () => {
    const twoWays = readRequestBody(bytes("{\"model\":\"gpt-4o-mini\",\"MODEL\":\"o1-pro\"}"));
    expect(twoWays.modelAmbiguous).toBe(true);
    expect(twoWays.model).toBeNull();
    expect(readRequestBody(bytes("{\"MODEL\":\"o1-pro\"}")).modelAmbiguous).toBe(true);
    // The same model in both cases reads the same everywhere.
    expect(readRequestBody(bytes("{\"Model\":\"x\",\"model\":\"x\"}")).modelAmbiguous).toBe(false);
    expect(readRequestBody(bytes("{\"stream\":false,\"Stream\":true}")).stream).toBe(true);
    // Go folds the long s and the Kelvin sign into ASCII letters.
    expect(readRequestBody(bytes("{\"\\u017ftream\":true}")).stream).toBe(true);
    expect(readRequestBody(bytes("{\"max_to\\u212aens\":5000}")).completion).toBe(5000);
  });

  it("reads max_tokens and max_completion_tokens in every numeric form, the largest counting", () => {
    expect(readRequestBody(bytes("{\"max_tokens\":3e4}")).completion).toBe(30000);
    expect(readRequestBody(bytes("{\"max_tokens\":30000.0}")).completion).toBe(30000);
    expect(readRequestBody(bytes("{\"max_tokens\":2.99995E+4}")).completion).toBe(30000);
    expect(readRequestBody(bytes("{\"max_tokens\":\"30000\"}")).completion).toBe(30000);
    expect(readRequestBody(bytes("{\"max_tokens\":100,\"max_completion_tokens\":30000}")).completion).toBe(30000);
    expect(readRequestBody(bytes("{\"max_completion_tokens\":100,\"max_tokens\":30000}")).completion).toBe(30000);
    expect(readRequestBody(bytes("{\"max_tokens\":-5}")).completion).toBe(0);
    expect(readRequestBody(bytes("{\"max_tokens\":1e999}")).completion).toBe(1000000000000);
    expect(readRequestBody(bytes("{\"max_tokens\":{\"a\":1}}")).completion).toBe(0);
  });

  it("reads numbers linearly and refuses what is not one", () => {
    const n = bytes("1" + "0".repeat(5000));
    expect(numberCeil(n, 0, n.byteLength)).toBe(1000000000000);
    expect(numberCeil(bytes("12."), 0, 3)).toBe(-1);
    expect(numberCeil(bytes("1e"), 0, 2)).toBe(-1);
    expect(numberCeil(bytes("abc"), 0, 3)).toBe(-1);
    expect(numberCeil(bytes("0.0001"), 0, 6)).toBe(1);
  });

  it("passes a huge body full of escapes in one pass, and anything malformed asks for nothing", () => {
    const text = "{\"messages\":[{\"content\":\"" + "\\\"model\\\":\\\"x\\\" ".repeat(20000) + "\"}],\"model\":\"m\"}";
    expect(readRequestBody(bytes(text)).model).toBe("m");
    expect(readRequestBody(bytes("{\"model\":")).model).toBeNull();
    expect(readRequestBody(bytes("[1,2]")).stream).toBe(false);
    expect(readRequestBody(new ArrayBuffer(0)).completion).toBe(0);
  });
});
