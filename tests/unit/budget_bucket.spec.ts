import { Bucket, Rates, decodeBuckets, encodeBuckets } from "../../assembly/plugin/budget/budget_bucket";

describe("budget rates", () => {
  it("hold the key's whole minute by default, burst requests when set, scaled by the AIMD share", () => {
    const minute = new Rates(60, 6000, 0, 1000);
    expect(minute.requestCap).toBe(60_000);
    expect(minute.tokenCap).toBe(6000);
    // One request (1000 thousandths) a second, 100 tokens a second.
    expect(minute.requests).toBe(1.0);
    expect(minute.tokens).toBe(0.1);
    const burst = new Rates(600, 0, 20, 1000);
    expect(burst.requestCap).toBe(20_000);
    const half = new Rates(60, 6000, 0, 500);
    expect(half.requestCap).toBe(30_000);
    expect(half.tokenCap).toBe(3000);
  });

  it("start a new key full and refill a bucket to its cap, never beyond", () => {
    const rates = new Rates(60, 6000, 0, 1000);
    const buckets: Bucket[] = [];
    const b = rates.bucketOf(buckets, 7, 1000);
    expect(b.requests).toBe(60_000);
    b.requests = 0;
    b.tokens = -500;
    expect(rates.bucketOf(buckets, 7, 3000).requests).toBe(2000);
    expect(rates.bucketOf(buckets, 7, 3000).tokens).toBe(-300);
    expect(rates.bucketOf(buckets, 7, 1_000_000).requests).toBe(60_000);
    expect(buckets.length).toBe(1);
  });
});

describe("budget record", () => {
  it("round-trips levels below zero and skips entries that do not read", () => {
    const list: Bucket[] = [new Bucket(0xabcdef0123456789, 5000, -42, 1700000000000), new Bucket(2, 0, 7, 1)];
    const back = decodeBuckets(encodeBuckets(list));
    expect(back.length).toBe(2);
    expect(back[0].id).toBe(0xabcdef0123456789);
    expect(back[0].tokens).toBe(-42);
    expect(back[1].at).toBe(1);
    expect(decodeBuckets("1,2,3;zz;4,5,x,6;9,1,1,1").length).toBe(1);
    expect(decodeBuckets("").length).toBe(0);
  });
});
