import { CapturedRequest, MAX_RETRY_BODY } from "../../assembly/plugin/request/replay";
import { asksForStream } from "../../assembly/plugin/keys/request_body";
import { HeldBodies } from "../../assembly/plugin/streams/held_bodies";
import { Clock } from "../../assembly/util/clock";

class FixedClock extends Clock {
  constructor(public at: i64) { super(); }
  now(): i64 { return this.at; }
}
const CLOCK = new FixedClock(1_000_000);

function bytes(s: string): ArrayBuffer { return String.UTF8.encode(s); }

describe("captured request body", () => {
  it("keeps a single chunk and joins several in order", () => {
    const one = new CapturedRequest(new ArrayBuffer(0), new HeldBodies(1 << 30), CLOCK);
    one.addChunk(bytes("{\"a\":1}"));
    expect(String.UTF8.decode(one.body())).toBe("{\"a\":1}");
    const many = new CapturedRequest(new ArrayBuffer(0), new HeldBodies(1 << 30), CLOCK);
    const parts = ["{\"model\":", "\"m\",", "\"stream\"", ":true", "}"];
    for (let i = 0; i < parts.length; i++) many.addChunk(bytes(parts[i]));
    expect(String.UTF8.decode(many.body())).toBe("{\"model\":\"m\",\"stream\":true}");
    expect(asksForStream(many.body())).toBe(true);
  });

  it("gives the body up past 1 MiB", () => {
    const c = new CapturedRequest(new ArrayBuffer(0), new HeldBodies(1 << 30), CLOCK);
    c.addChunk(new ArrayBuffer(MAX_RETRY_BODY - 10));
    expect(c.dropped).toBe(false);
    c.addChunk(new ArrayBuffer(11));
    expect(c.dropped).toBe(true);
  });

  it("gives a body up when the VM holds its limit, and counts a dropped body's bytes back", () => {
    const held = new HeldBodies(1000);
    const a = new CapturedRequest(new ArrayBuffer(0), held, CLOCK);
    a.addChunk(new ArrayBuffer(600));
    expect(held.used).toBe(600);
    const b = new CapturedRequest(new ArrayBuffer(0), held, CLOCK);
    b.addChunk(new ArrayBuffer(500));
    expect(b.dropped).toBe(true);
    expect(b.overLimit).toBe(true);
    expect(held.used).toBe(600);
    a.dropBody();
    expect(held.used).toBe(0);
    const c = new CapturedRequest(new ArrayBuffer(0), held, CLOCK);
    c.addChunk(new ArrayBuffer(500));
    expect(c.dropped).toBe(false);
    expect(held.used).toBe(500);
  });

  it("reads stream only as a top-level true", () => {
    expect(asksForStream(bytes("{\"stream\":false}"))).toBe(false);
    expect(asksForStream(bytes("{\"x\":{\"stream\":true}}"))).toBe(false);
    expect(asksForStream(bytes("not json"))).toBe(false);
    expect(asksForStream(new ArrayBuffer(0))).toBe(false);
  });
});
