import { Bucket, BudgetRecord, Rates, decodeBudget, encodeBudget } from "../../assembly/plugin/budget/budget_bucket";

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
    const record = new BudgetRecord();
    record.buckets = [new Bucket(0xabcdef0123456789, 5000, -42, 1700000000000), new Bucket(2, 0, 7, 1)];
    const back = decodeBudget(encodeBudget(record)).buckets;
    expect(back.length).toBe(2);
    expect(back[0].id).toBe(0xabcdef0123456789);
    expect(back[0].tokens).toBe(-42);
    expect(back[1].at).toBe(1);
    expect(decodeBudget("1,2,3;zz;4,5,x,6;9,1,1,1").buckets.length).toBe(1);
    expect(decodeBudget("").buckets.length).toBe(0);
  });

  it("says whether Redis feeds the buckets and how many replicas share the limits", () => {
    const record = new BudgetRecord();
    expect(encodeBudget(record)).toBe("");
    record.replicas = 3;
    record.fed = true;
    record.buckets = [new Bucket(7, 1000, 0, 5)];
    const back = decodeBudget(encodeBudget(record));
    expect(back.replicas).toBe(3);
    expect(back.fed).toBe(true);
    // Fed by Redis, a bucket holds the whole limit (Redis decides the shares); alone, the process refills its share.
    expect(back.divisor).toBe(1);
    back.fed = false;
    expect(back.divisor).toBe(3);
    expect(back.buckets[0].requests).toBe(1000);
  });

  it("a fed bucket does not refill by itself and starts empty; a share divides rate and size", () => {
    const rates = new Rates(60, 6000, 0, 1000);
    const buckets: Bucket[] = [];
    const b = rates.bucketOf(buckets, 9, 1000, true);
    expect(b.requests).toBe(0);
    expect(rates.bucketOf(buckets, 9, 61_000, true).requests).toBe(0);
    const third = new Rates(60, 6000, 0, 1000, 3);
    expect(third.requestCap).toBe(20_000);
    expect(third.tokenCap).toBe(2000);
  });
});
