import { parseConfig } from "../../assembly/plugin/config/config_parse";
import { WhenExpired, WhenFull } from "../../assembly/plugin/config/queue_config";

const PROVIDER = '"provider":{"apiTokens":["sk-a","sk-b"]}';

function errorOf(queue: string): string {
  const r = parseConfig("{" + PROVIDER + ',"queue":' + queue + "}");
  expect(r.config).toBeNull(queue);
  return r.error;
}

describe("queue configuration", () => {
  it("is off by default and takes the documented defaults", () => {
    const off = parseConfig("{" + PROVIDER + "}").config!;
    expect(off.queue.enabled).toBe(false);
    const q = parseConfig("{" + PROVIDER + ',"queue":{"enabled":true}}').config!.queue;
    expect(q.enabled).toBe(true);
    expect(q.maxWaiting).toBe(500);
    expect(q.priorityHeader).toBe("x-priority");
    expect(q.maxWaitMs[0]).toBe(30000);
    expect(q.maxWaitMs[2]).toBe(10000);
    expect(q.maxWaitMs[3]).toBe(2000);
    expect(q.whenFull).toBe(WhenFull.Reject);
    expect(q.whenExpired).toBe(WhenExpired.Reject);
  });

  it("reads priorities by name in any case or as 1-4, anything else as normal", () => {
    const q = parseConfig("{" + PROVIDER + ',"queue":{"enabled":true,"priorityHeader":"X-Tier","maxWaitMs":{"low":500},"whenFull":"drop_lowest","whenExpired":"passthrough"}}').config!.queue;
    expect(q.priorityHeader).toBe("x-tier");
    expect(q.maxWaitMs[3]).toBe(500);
    expect(q.whenFull).toBe(WhenFull.DropLowest);
    expect(q.whenExpired).toBe(WhenExpired.Passthrough);
    expect(q.rankOf("URGENT")).toBe(0);
    expect(q.rankOf(" high ")).toBe(1);
    expect(q.rankOf("4")).toBe(3);
    expect(q.rankOf("5")).toBe(2);
    expect(q.rankOf("vip")).toBe(2);
    expect(q.rankOf(null)).toBe(2);
  });

  it("refuses bad values with one message naming the field", () => {
    expect(errorOf('{"enabled":true,"whenFull":"queue"}')).toBe("queue.whenFull must be reject, passthrough or drop_lowest");
    expect(errorOf('{"whenExpired":"drop_lowest"}')).toBe("queue.whenExpired must be reject or passthrough");
    expect(errorOf('{"maxWaiting":0}')).toBe("queue.maxWaiting must be an integer from 1 to 100000");
    expect(errorOf('{"maxWaitMs":{"low":-1}}')).toBe("queue.maxWaitMs.low must be an integer from 0 to 300000");
    expect(errorOf('{"priorityHeader":"x priority"}')).toBe("queue.priorityHeader must be a header name");
    expect(errorOf('{"enabled":"yes"}')).toBe("queue.enabled must be true or false");
    expect(errorOf('[]')).toBe("queue must be an object");
  });
});
