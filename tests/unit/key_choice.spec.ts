import { parseConfig } from "../../assembly/plugin/config/config_parse";
import { KeyChooser } from "../../assembly/plugin/keys/key_choice";
import { Random } from "../../assembly/util/random";

function chooser(keys: string): KeyChooser {
  return new KeyChooser(parseConfig("{\"provider\":{\"apiTokens\":" + keys + "}}").config!);
}

function counts(c: KeyChooser, candidates: i32[], model: string | null, excluded: i32[] | null, factors: i32[] | null, n: i32): i32[] {
  const random = new Random(42);
  const out = new Array<i32>(4).fill(0);
  for (let k = 0; k < n; k++) {
    const i = c.choose(random, candidates, model, excluded, factors, null);
    if (i >= 0) out[i]++;
  }
  return out;
}

describe("key choice", () => {
  it("serves a model only with keys whose list matches it; a key without a list serves every model", () => {
    const c = chooser("[{\"token\":\"sk-a\",\"models\":[\"gpt-4o*\"]},{\"token\":\"sk-b\",\"models\":[\"claude-*\"]},\"sk-c\"]");
    expect(c.byModel).toBe(true);
    expect(c.serves(0, "gpt-4o-mini")).toBe(true);
    expect(c.serves(1, "gpt-4o-mini")).toBe(false);
    expect(c.serves(2, "gpt-4o-mini")).toBe(true);
    expect(c.serves(0, null)).toBe(false);
    expect(c.anyServes(null)).toBe(true);
    const got = counts(c, [0, 1, 2], "claude-3", null, null, 200);
    expect(got[0]).toBe(0);
    expect(got[1] + got[2]).toBe(200);
  });

  it("never picks an excluded key, and answers -1 when nothing is left", () => {
    const c = chooser("[\"sk-a\",\"sk-b\"]");
    expect(c.uniform).toBe(true);
    const got = counts(c, [0, 1], null, [1], null, 50);
    expect(got[0]).toBe(50);
    expect(c.choose(new Random(1), [0, 1], null, [0, 1], null, null)).toBe(-1);
    expect(c.choose(new Random(1), [], null, null, null, null)).toBe(-1);
  });

  it("weighs keys by weight times AIMD share", () => {
    const c = chooser("[{\"token\":\"sk-a\",\"weight\":3},\"sk-b\"]");
    const byWeight = counts(c, [0, 1], null, null, null, 4000);
    expect(byWeight[0]).toBeGreaterThan(2800);
    expect(byWeight[0]).toBeLessThan(3200);
    // Key 0 at a third of its share: both keys weigh the same.
    const slowed = counts(c, [0, 1], null, null, [333, 1000], 4000);
    expect(slowed[0]).toBeGreaterThan(1800);
    expect(slowed[0]).toBeLessThan(2200);
  });
});
