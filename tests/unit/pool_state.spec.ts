import { decodePool, encodePool } from "../../assembly/plugin/pool/pool_codec";
import { FailureOutcome, PoolState, ProbeVerdict } from "../../assembly/plugin/pool/pool_state";

function pool(n: i32): PoolState {
  const p = new PoolState();
  const ids: u64[] = [];
  for (let i = 0; i < n; i++) ids.push(0xfedcba9876543210 + <u64>i);
  p.addMissing(ids);
  return p;
}

describe("pool state", () => {
  it("takes a token out at the threshold of consecutive failures", () => {
    const p = pool(2);
    expect(p.recordFailure(0, 401, 1000, 0, 3, 0)).toBe(FailureOutcome.Counted);
    expect(p.recordFailure(0, 401, 1001, 0, 3, 0)).toBe(FailureOutcome.Counted);
    expect(p.recordFailure(0, 401, 1002, 0, 3, 0)).toBe(FailureOutcome.Ejected);
    expect(p.tokens[0].out).toBe(true);
    expect(p.tokens[0].outSince).toBe(1002);
    expect(p.tokens[0].returnsAt).toBe(0);
    expect(p.recordFailure(0, 401, 1003, 0, 3, 0)).toBe(FailureOutcome.Counted);
    expect(p.tokens[0].outSince).toBe(1002);
  });

  it("resets the count on success", () => {
    const p = pool(1);
    p.recordFailure(0, 500, 1, 0, 3, 0);
    p.recordFailure(0, 500, 2, 0, 3, 0);
    expect(p.recordSuccess(0, 1000)).toBe(true);
    expect(p.recordSuccess(0, 1000)).toBe(false);
    p.recordFailure(0, 500, 3, 0, 3, 0);
    expect(p.tokens[0].out).toBe(false);
  });

  it("benches at once on Retry-After and restores when it passes", () => {
    const p = pool(1);
    expect(p.recordFailure(0, 429, 1000, 3000, 3, 0)).toBe(FailureOutcome.Ejected);
    expect(p.tokens[0].returnsAt).toBe(3000);
    expect(p.restoreDue(2999).length).toBe(0);
    expect(p.restoreDue(3000).length).toBe(1);
    expect(p.tokens[0].out).toBe(false);
    expect(p.tokens[0].failures).toBe(0);
  });

  it("uses the cooldown when configured", () => {
    const p = pool(1);
    p.recordFailure(0, 500, 10, 0, 1, 500);
    expect(p.tokens[0].returnsAt).toBe(510);
  });

  it("needs consecutive successful probes", () => {
    const p = pool(1);
    p.recordFailure(0, 401, 1, 0, 1, 0);
    expect(p.recordProbe(0, true, 200, 2, 1000, 0)).toBe(false);
    expect(p.recordProbe(0, false, 401, 2, 1000, 0)).toBe(false);
    expect(p.tokens[0].probeSuccesses).toBe(0);
    expect(p.recordProbe(0, true, 200, 2, 1000, 0)).toBe(false);
    expect(p.recordProbe(0, true, 200, 2, 1000, 0)).toBe(true);
    expect(p.tokens[0].out).toBe(false);
  });

  it("makes a probed token a suspect at the threshold; its probe decides", () => {
    const p = pool(2);
    p.recordFailure(0, 401, 1, 0, 2, 0, true, true);
    expect(p.recordFailure(0, 401, 2, 0, 2, 0, true, true)).toBe(FailureOutcome.Suspected);
    expect(p.tokens[0].out).toBe(false);
    expect(p.tokens[0].suspect).toBe(true);
    // Further failures while the probe runs only count.
    expect(p.recordFailure(0, 401, 3, 0, 2, 0, true, true)).toBe(FailureOutcome.Counted);
    // A successful probe: the failures were the requests'.
    expect(p.confirm(0, false, 200, 4, 0, 0, true)).toBe(ProbeVerdict.Cleared);
    expect(p.tokens[0].suspect).toBe(false);
    expect(p.tokens[0].failures).toBe(0);
    expect(p.confirm(0, true, 401, 5, 0, 0, true)).toBe(ProbeVerdict.None);
    // A failed probe: out, until a probe brings it back (or the cooldown, or the probe's Retry-After).
    p.recordFailure(0, 401, 6, 0, 1, 0, true, true);
    expect(p.confirm(0, true, 403, 7, 0, 0, true)).toBe(ProbeVerdict.Ejected);
    expect(p.tokens[0].out).toBe(true);
    expect(p.tokens[0].lastStatus).toBe(403);
    expect(p.tokens[0].returnsAt).toBe(0);
    p.recordFailure(1, 429, 8, 0, 1, 500, true, true);
    expect(p.confirm(1, true, 429, 9, 60_009, 500, true)).toBe(ProbeVerdict.Ejected);
    expect(p.tokens[1].returnsAt).toBe(60_009);
  });

  it("keeps a suspect in when the ejection cap is reached by the time its probe fails", () => {
    const p = pool(2);
    p.recordFailure(0, 401, 1, 0, 1, 0, true, true);
    expect(p.confirm(0, true, 401, 2, 0, 0, false)).toBe(ProbeVerdict.None);
    expect(p.tokens[0].out).toBe(false);
    expect(p.tokens[0].suspect).toBe(false);
    // A Retry-After on the probe benches it whatever the cap, as a 429 with Retry-After does.
    p.recordFailure(0, 401, 3, 0, 1, 0, true, true);
    expect(p.confirm(0, true, 429, 4, 5000, 0, false)).toBe(ProbeVerdict.Ejected);
  });

  it("a success clears a suspect; a Retry-After takes it out at once", () => {
    const p = pool(1);
    p.recordFailure(0, 401, 1, 0, 1, 0, true, true);
    expect(p.recordSuccess(0, 2)).toBe(true);
    expect(p.tokens[0].suspect).toBe(false);
    p.recordFailure(0, 401, 3, 0, 1, 0, true, true);
    expect(p.recordFailure(0, 429, 4, 9000, 1, 0, true, true)).toBe(FailureOutcome.Ejected);
    expect(p.tokens[0].suspect).toBe(false);
  });

  it("keeps a suspect, held or not, through the codec", () => {
    const p = pool(3);
    p.recordFailure(1, 401, 1, 0, 1, 0, true, true, false);
    p.recordFailure(2, 401, 1, 0, 1, 0, true, true, true);
    const text = encodePool(p);
    const q = decodePool(text)!;
    expect(q.tokens[1].suspect).toBe(true);
    expect(q.tokens[1].held).toBe(false);
    expect(q.tokens[2].suspect).toBe(true);
    expect(q.tokens[2].held).toBe(true);
    expect(q.tokens[1].out).toBe(false);
    expect(q.tokens[0].suspect).toBe(false);
    expect(decodePool(text.replace(",3,", ",4,"))).toBeNull();
    // Its probe's verdict releases it.
    expect(q.confirm(2, false, 200, 2, 0, 0, true)).toBe(ProbeVerdict.Cleared);
    expect(q.tokens[2].held).toBe(false);
  });

  it("round-trips through the codec, full 64-bit ids included", () => {
    const p = pool(3);
    p.recordFailure(1, 429, 1700000000000, 1700000002000, 3, 0);
    p.recordFailure(2, 503, 5, 0, 3, 0);
    const q = decodePool(encodePool(p))!;
    expect(q.tokens.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(q.tokens[i].id).toBe(p.tokens[i].id);
      expect(q.tokens[i].out).toBe(p.tokens[i].out);
      expect(q.tokens[i].failures).toBe(p.tokens[i].failures);
      expect(q.tokens[i].outSince).toBe(p.tokens[i].outSince);
      expect(q.tokens[i].returnsAt).toBe(p.tokens[i].returnsAt);
      expect(q.tokens[i].lastStatus).toBe(p.tokens[i].lastStatus);
    }
  });

  it("refuses malformed records without trapping", () => {
    const bad = [";1,0,0,0,0,0,0", "zz,0,0,0,0,0,0", "1,0,0", "1,0,0,0,0,0,0,", "11111111111111111,0,0,0,0,0,0", "1x", "1,0,0,0,0,0,0;"];
    for (let i = 0; i < bad.length; i++) expect(decodePool(bad[i])).toBeNull(bad[i]);
    expect(decodePool("")!.tokens.length).toBe(0);
  });

  it("adds only missing tokens on reload", () => {
    const p = pool(2);
    p.recordFailure(0, 401, 1, 0, 1, 0);
    const ids: u64[] = [p.tokens[0].id, 42];
    expect(p.addMissing(ids)).toBe(true);
    expect(p.tokens.length).toBe(3);
    expect(p.tokens[0].out).toBe(true);
    expect(p.addMissing(ids)).toBe(false);
  });
});
