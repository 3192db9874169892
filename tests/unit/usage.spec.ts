import { UsageScanner } from "../../assembly/plugin/judge/usage";

function scan(chunks: string[]): i64 {
  const u = new UsageScanner();
  for (let i = 0; i < chunks.length; i++) u.feedBuffer(String.UTF8.encode(chunks[i]));
  return u.total;
}

describe("usage scanner", () => {
  it("reads total_tokens of a JSON answer, spaces allowed", () => {
    expect(scan(["{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\" : 12}}"])).toBe(12);
  });

  it("finds a total split across chunks, and keeps the last of a stream", () => {
    expect(scan(["data: {\"usage\":{\"total_to", "kens\":3", "4}}\n\n"])).toBe(34);
    expect(scan(["data: {\"usage\":{\"total_tokens\":1}}\n\n", "data: {\"usage\":{\"total_tokens\":99}}\n\n"])).toBe(99);
  });

  it("says -1 when the answer has none, and does not take a string for a number", () => {
    expect(scan(["{\"choices\":[]}"])).toBe(-1);
    expect(scan(["{\"total_tokens\":\"12\"}"])).toBe(-1);
    expect(scan(["{\"x\":\"\\\"total_tokens\\\"\"}"])).toBe(-1);
  });
});
