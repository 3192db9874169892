import { ByteBuffer } from "../../assembly/util/byte_buffer";

function bytes(s: string): ArrayBuffer { return String.UTF8.encode(s); }

describe("byte buffer", () => {
  it("keeps a whole first chunk as it is and joins more chunks in order, doubling", () => {
    const b = new ByteBuffer();
    const first = bytes("abcd");
    b.append(first, 4, 1 << 20);
    expect(b.raw).toBe(first);
    expect(b.capacity).toBe(4);
    expect(b.capacityFor(3, 1 << 20)).toBe(8);
    b.append(bytes("efg"), 3, 1 << 20);
    expect(b.capacity).toBe(8);
    expect(String.UTF8.decode(b.bytes())).toBe("abcdefg");
    expect(b.capacity).toBe(7);
  });

  it("stops at its cap, and is empty after clear", () => {
    const b = new ByteBuffer();
    b.append(bytes("0123456789"), 10, 6);
    expect(b.used).toBe(6);
    expect(String.UTF8.decode(b.bytes())).toBe("012345");
    b.append(bytes("x"), 1, 6);
    expect(b.used).toBe(6);
    b.clear();
    expect(b.used).toBe(0);
    expect(b.bytes().byteLength).toBe(0);
  });
});
