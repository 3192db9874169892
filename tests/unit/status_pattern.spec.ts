import { StatusSet } from "../../assembly/util/status_pattern";

function setOf(patterns: string[]): StatusSet {
  const s = new StatusSet();
  for (let i = 0; i < patterns.length; i++) expect(s.addPattern(patterns[i])).toBe("", patterns[i]);
  return s;
}

describe("status patterns", () => {
  it("are anchored: 4.* matches 404 but never 204", () => {
    const s = setOf(["4.*"]);
    expect(s.has(404)).toBe(true);
    expect(s.has(400)).toBe(true);
    expect(s.has(204)).toBe(false);
    expect(s.has(500)).toBe(false);
  });

  it("match literals exactly", () => {
    const s = setOf(["429"]);
    expect(s.has(429)).toBe(true);
    expect(s.has(4290)).toBe(false);
    expect(s.has(428)).toBe(false);
  });

  it("support dots, classes, ranges, negation and \\d", () => {
    expect(setOf(["5.."]).has(503)).toBe(true);
    expect(setOf(["5.."]).has(50)).toBe(false);
    const cls = setOf(["5[0-2]3"]);
    expect(cls.has(503)).toBe(true);
    expect(cls.has(523)).toBe(true);
    expect(cls.has(533)).toBe(false);
    const neg = setOf(["4[^0]."]);
    expect(neg.has(401)).toBe(false);
    expect(neg.has(429)).toBe(true);
    expect(setOf(["5\\d\\d"]).has(599)).toBe(true);
  });

  it("support alternation, groups and quantifiers", () => {
    const s = setOf(["40(1|3)|429"]);
    expect(s.has(401)).toBe(true);
    expect(s.has(403)).toBe(true);
    expect(s.has(429)).toBe(true);
    expect(s.has(402)).toBe(false);
    expect(setOf(["5+"]).has(555)).toBe(true);
    expect(setOf(["5+"]).has(550)).toBe(false);
    expect(setOf(["50?3"]).has(503)).toBe(true);
    expect(setOf(["5\\d{2}"]).has(502)).toBe(true);
    expect(setOf(["5\\d{2}"]).has(402)).toBe(false);
    expect(setOf(["4.{1,2}"]).has(418)).toBe(true);
  });

  it("refuse invalid patterns with a reason", () => {
    const bad = ["", "(", "5[0-", "*4", "4)", "[]", "5{9,1}", "\\"];
    for (let i = 0; i < bad.length; i++) {
      const s = new StatusSet();
      expect(s.addPattern(bad[i]).length).toBeGreaterThan(0, bad[i]);
    }
  });

  it("union several patterns", () => {
    const s = setOf(["401", "403", "429", "5.."]);
    expect(s.has(401)).toBe(true);
    expect(s.has(400)).toBe(false);
    expect(s.has(404)).toBe(false);
    expect(s.has(413)).toBe(false);
    expect(s.has(422)).toBe(false);
    expect(s.has(502)).toBe(true);
    expect(s.has(200)).toBe(false);
  });
});
