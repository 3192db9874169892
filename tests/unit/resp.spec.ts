import { RespKind, encodeCommand, parseReply } from "../../assembly/util/resp";
import { readSyncReply } from "../../assembly/plugin/replica/sync_reply";

function reply(text: string): ArrayBuffer { return String.UTF8.encode(text); }

describe("RESP", () => {
  it("encodes a command as an array of bulk strings, lengths in bytes", () => {
    expect(String.UTF8.decode(encodeCommand(["GET", "k\u00e9"]))).toBe("*2\r\n$3\r\nGET\r\n$3\r\nk\u00e9\r\n");
  });

  it("reads simple strings, errors, integers, bulk strings, nil and nested arrays", () => {
    expect(parseReply(reply("+OK\r\n")).text).toBe("OK");
    const err = parseReply(reply("-NOSCRIPT No matching script\r\n"));
    expect(err.kind).toBe(RespKind.Error);
    expect(err.text).toBe("NOSCRIPT No matching script");
    expect(parseReply(reply(":-12\r\n")).integer).toBe(-12);
    expect(parseReply(reply("$5\r\na\r\nbc\r\n")).text).toBe("a\r\nbc");
    expect(parseReply(reply("$-1\r\n")).kind).toBe(RespKind.Nil);
    const arr = parseReply(reply("*2\r\n:1\r\n*1\r\n$1\r\nx\r\n"));
    expect(arr.kind).toBe(RespKind.Array);
    expect(arr.items[1].items[0].text).toBe("x");
  });

  it("calls malformed what is cut short, not RESP, too deep or claims more than it holds", () => {
    const bad = ["", "+OK", "$5\r\nab\r\n", "*2\r\n:1\r\n", "?x\r\n", ":1x\r\n", "*99999999\r\n", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "$3\r\nabcd\r\n"];
    for (let i = 0; i < bad.length; i++) expect(parseReply(reply(bad[i])).kind).toBe(RespKind.Malformed);
  });
});

describe("sync reply", () => {
  it("reads the probe lease, live replicas, grants, key states and days; skips entries that do not read", () => {
    const v = parseReply(reply("*5\r\n:1\r\n:3\r\n*2\r\n$9\r\nab,2000,5\r\n$4\r\nzz,x\r\n*4\r\n$2\r\nff\r\n$26\r\n4,1,0,99,500,1700,1600,401\r\n$1\r\n1\r\n$3\r\n1,2\r\n" +
      "*2\r\n$15\r\nab,20429,17,900\r\n$5\r\nab,x1\r\n"));
    const sync = readSyncReply(v)!;
    expect(sync.holdsLease).toBe(true);
    expect(sync.liveReplicas).toBe(3);
    expect(sync.grants.length).toBe(1);
    expect(sync.grants[0].id).toBe(0xab);
    expect(sync.grants[0].requests).toBe(2000);
    expect(sync.keys.length).toBe(1);
    const k = sync.keys[0];
    expect(k.id).toBe(0xff);
    expect(k.version).toBe(4);
    expect(k.out).toBe(true);
    expect(k.limitedUntil).toBe(99);
    expect(k.share).toBe(500);
    expect(k.memberAt).toBe(1700);
    expect(k.status).toBe(401);
    expect(sync.days.length).toBe(1);
    expect(sync.days[0].id).toBe(0xab);
    expect(sync.days[0].day).toBe(20429);
    expect(sync.days[0].requests).toBe(17);
    expect(sync.days[0].tokens).toBe(900);
  });

  it("is null for a Redis error or another shape", () => {
    expect(readSyncReply(parseReply(reply("-ERR boom\r\n")))).toBeNull();
    expect(readSyncReply(parseReply(reply("*1\r\n:1\r\n")))).toBeNull();
    // The reply of a script without days is another shape.
    expect(readSyncReply(parseReply(reply("*4\r\n:1\r\n:1\r\n*0\r\n*0\r\n")))).toBeNull();
  });
});
