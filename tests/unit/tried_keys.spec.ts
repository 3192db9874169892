import { TriedKeys } from "../../assembly/plugin/streams/tried_keys";

describe("attempt ledger", () => {
  it("gives each attempt the keys earlier attempts of its request used; attempt 1 starts afresh", () => {
    const l = new TriedKeys();
    expect(l.tried("r1", 1, 0).length).toBe(0);
    l.record("r1", 2, 0);
    const t = l.tried("r1", 2, 10);
    expect(t.length).toBe(1);
    expect(t[0]).toBe(2);
    l.record("r1", 0, 10);
    expect(l.tried("r1", 3, 20).length).toBe(2);
    expect(l.tried("r2", 2, 20).length).toBe(0);
    expect(l.tried("r1", 1, 30).length).toBe(0);
  });

  it("keeps nothing without a request id, forgets old entries and stays bounded", () => {
    const l = new TriedKeys();
    l.record("", 1, 0);
    expect(l.size).toBe(0);
    l.record("old", 1, 0);
    expect(l.tried("old", 2, 700_000).length).toBe(0);
    for (let i = 0; i < 5000; i++) l.record("r" + i.toString(), 0, 1);
    expect(l.size).toBe(4096);
    expect(l.tried("r0", 2, 2).length).toBe(0);
    expect(l.tried("r4999", 2, 2).length).toBe(1);
  });

  it("a reused request id keeps one place in the eviction order: evicting its place never drops a newer id", () => {
    const l = new TriedKeys();
    for (let round = 0; round < 3; round++) {
      expect(l.tried("reused", 1, round).length).toBe(0);
      l.record("reused", round, round);
    }
    for (let i = 0; i < 4095; i++) l.record("r" + i.toString(), 0, 5);
    expect(l.size).toBe(4096);
    expect(l.tried("r4094", 2, 6).length).toBe(1);
    expect(l.tried("reused", 2, 6).length).toBe(1);
  });
});
