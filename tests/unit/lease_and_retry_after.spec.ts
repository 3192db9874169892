import { Lease, leaseTtl, mayHold } from "../../assembly/plugin/pool/lease";
import { MAX_RETRY_AFTER_MS, retryAfterDeadline } from "../../assembly/plugin/judge/retry_after";

describe("lease rules", () => {
  it("lets the holder renew, others wait for expiry, and a newer configuration take over", () => {
    const l = new Lease("vm-a", 5000, 100);
    expect(mayHold(null, "vm-b", 1, 0)).toBe(true);
    expect(mayHold(l, "vm-a", 100, 4000)).toBe(true);
    expect(mayHold(l, "vm-b", 100, 4000)).toBe(false);
    expect(mayHold(l, "vm-b", 99, 5000)).toBe(true);
    expect(mayHold(l, "vm-b", 101, 4000)).toBe(true);
    expect(leaseTtl(1000)).toBe(3000);
  });

  it("round-trips and refuses garbage", () => {
    const l = Lease.decode(new Lease("abc:1", 1700000000000, 42).encode())!;
    expect(l.holder).toBe("abc:1");
    expect(l.expiresAt).toBe(1700000000000);
    expect(l.stamp).toBe(42);
    expect(Lease.decode("")).toBeNull();
    expect(Lease.decode("x 1")).toBeNull();
    expect(Lease.decode("x y 1")).toBeNull();
  });
});

describe("Retry-After", () => {
  it("reads delay-seconds", () => {
    expect(retryAfterDeadline("2", 1000)).toBe(3000);
    expect(retryAfterDeadline(" 10 ", 0)).toBe(10000);
  });

  it("reads an IMF-fixdate", () => {
    // 1994-11-06T08:49:37Z = 784111777 s
    const now: i64 = 784111777000 - 5000;
    expect(retryAfterDeadline("Sun, 06 Nov 1994 08:49:37 GMT", now)).toBe(784111777000);
  });

  it("ignores absent, past and malformed values, and caps long ones", () => {
    expect(retryAfterDeadline(null, 0)).toBe(0);
    expect(retryAfterDeadline("", 0)).toBe(0);
    expect(retryAfterDeadline("soon", 0)).toBe(0);
    expect(retryAfterDeadline("-5", 0)).toBe(0);
    expect(retryAfterDeadline("0", 100)).toBe(0);
    expect(retryAfterDeadline("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 + 1)).toBe(0);
    expect(retryAfterDeadline("999999", 0)).toBe(MAX_RETRY_AFTER_MS);
  });
});
