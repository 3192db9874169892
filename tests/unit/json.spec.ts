import { JsonKind, parseJson, readJson } from "../../assembly/util/json";

describe("strict JSON reader", () => {
  it("reads objects, arrays, strings with escapes, numbers and literals", () => {
    const v = parseJson('{"a":[1,-2.5e1,true,false,null],"s":"x\\"y\\u00e9\\n","o":{}}')!;
    expect(v.kind).toBe(JsonKind.Object);
    const a = v.get("a")!;
    expect(a.items.length).toBe(5);
    expect(a.items[0].num).toBe(1);
    expect(a.items[1].num).toBe(-25);
    expect(a.items[2].bool).toBe(true);
    expect(a.items[4].kind).toBe(JsonKind.Null);
    expect(v.get("s")!.str).toBe("x\"y\u00e9\n");
    expect(v.get("o")!.kind).toBe(JsonKind.Object);
    expect(v.get("missing")).toBeNull();
  });

  it("returns null with a reason instead of trapping on malformed input", () => {
    const bad = ['{"a":', "[1,2", "xx", '{"a":1}}', '{"a" 1}', "01", '"\\q"', '"abc', "[1,]", "", "-", "1."];
    for (let i = 0; i < bad.length; i++) {
      const doc = readJson(bad[i]);
      expect(doc.value).toBeNull(bad[i]);
      expect(doc.error.length).toBeGreaterThan(0, bad[i]);
    }
  });

  it("bounds nesting depth", () => {
    let deep = "";
    for (let i = 0; i < 100; i++) deep += "[";
    expect(parseJson(deep)).toBeNull();
  });
});
