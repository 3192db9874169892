// Header pairs in the ABI's serialized map layout, built, parsed and searched without the host. Pure.
import { decimalOf } from "./decimal";
import { HeaderLookup } from "./header_lookup";

/** An ordered list of header pairs (names as the host gave them: lower-case in Envoy). */
export class HeaderList extends HeaderLookup {
  names: string[] = [];
  values: string[] = [];

  /** Appends one pair. */
  add(name: string, value: string): void {
    this.names.push(name);
    this.values.push(value);
  }

  /** Removes every pair named `name` (ASCII case-insensitive). */
  removeAll(name: string): void {
    const wanted = name.toLowerCase();
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i].toLowerCase() != wanted) continue;
      this.names.splice(i, 1);
      this.values.splice(i, 1);
    }
  }

  /** First value of `name` (ASCII case-insensitive), or null. */
  get(name: string): string | null {
    const wanted = name.toLowerCase();
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i].toLowerCase() == wanted) return this.values[i];
    }
    return null;
  }

  /** The first value of `name` as a plain decimal number (at most 9 digits), -1 when absent or not one. */
  getDecimal(name: string): i32 {
    const v = this.get(name);
    return v != null ? <i32>decimalOf(v, 0, -1, 9) : -1;
  }

  /** The `:status` pseudo-header as a number, 0 when absent or malformed. */
  status(): i32 {
    const s = this.getDecimal(":status");
    return s >= 0 ? s : 0;
  }

  /** Number of pairs. */
  get length(): i32 { return this.names.length; }

  /** Serializes to the ABI map layout: count, (keyLen, valueLen)*, then key\0value\0 bytes. */
  serialize(): ArrayBuffer {
    const n = this.names.length;
    const keys = new Array<ArrayBuffer>(n);
    const vals = new Array<ArrayBuffer>(n);
    let size = 4 + n * 8;
    for (let i = 0; i < n; i++) {
      keys[i] = String.UTF8.encode(this.names[i], false);
      vals[i] = String.UTF8.encode(this.values[i], false);
      size += keys[i].byteLength + vals[i].byteLength + 2;
    }
    const out = new ArrayBuffer(size);
    const base = changetype<usize>(out);
    store<u32>(base, n);
    let data = base + 4 + n * 8;
    for (let i = 0; i < n; i++) {
      const k = keys[i], v = vals[i];
      store<u32>(base + 4 + i * 8, k.byteLength);
      store<u32>(base + 8 + i * 8, v.byteLength);
      memory.copy(data, changetype<usize>(k), k.byteLength);
      data += k.byteLength;
      store<u8>(data++, 0);
      memory.copy(data, changetype<usize>(v), v.byteLength);
      data += v.byteLength;
      store<u8>(data++, 0);
    }
    return out;
  }

  /** Whether a serialized map has a key equal to the ASCII `name` (no allocation). */
  static rawHas(buf: ArrayBuffer, name: string): bool {
    return HeaderList.rawFind(buf, name) != 0;
  }

  /** The value of the ASCII key `name` in a serialized map, as a string ("" when absent). */
  static rawText(buf: ArrayBuffer, name: string): string {
    const at = HeaderList.rawFind(buf, name);
    if (at == 0) return "";
    return String.UTF8.decodeUnsafe(<usize>(at >> 32), <usize>(at & 0xffffffff), false);
  }

  /**
   * Where the value of the ASCII key `name` lies in a serialized map: address (high 32 bits) and
   * length (low 32 bits), valid while `buf` lives; 0 when absent. No allocation.
   */
  static rawFind(buf: ArrayBuffer, name: string): u64 {
    const size = <usize>buf.byteLength;
    if (size < 4) return 0;
    const base = changetype<usize>(buf);
    const n = <usize>load<u32>(base);
    if (<usize>4 + n * 8 > size) return 0;
    let data = base + 4 + n * 8;
    const want = <usize>name.length;
    for (let i: usize = 0; i < n; i++) {
      const kl = <usize>load<u32>(base + 4 + i * 8);
      const vl = <usize>load<u32>(base + 8 + i * 8);
      if (data + kl + vl + 2 > base + size) return 0;
      if (kl == want) {
        let same = true;
        for (let j: usize = 0; j < want && same; j++) same = <i32>load<u8>(data + j) == name.charCodeAt(<i32>j);
        if (same) return (<u64>(data + kl + 1) << 32) | <u64>vl;
      }
      data += kl + vl + 2;
    }
    return 0;
  }

  /**
   * Where the request's path without its query lies in a serialized map (address in the high 32
   * bits, length in the low 32): the `:path` value up to its first `?`; 0 when there is none.
   */
  static rawPath(buf: ArrayBuffer): u64 {
    const at = HeaderList.rawFind(buf, ":path");
    if (at == 0) return 0;
    const ptr = <usize>(at >> 32), len = <usize>(at & 0xffffffff);
    let n: usize = 0;
    while (n < len && load<u8>(ptr + n) != 0x3f) n++;
    return (<u64>ptr << 32) | <u64>n;
  }

  /** Parses the ABI map layout; a malformed map yields the pairs that could be read. */
  static parse(buf: ArrayBuffer): HeaderList {
    const list = new HeaderList();
    const size = <usize>buf.byteLength;
    if (size < 4) return list;
    const base = changetype<usize>(buf);
    const n = <usize>load<u32>(base);
    if (<usize>4 + n * 8 > size) return list;
    let data = base + 4 + n * 8;
    const end = base + size;
    for (let i: usize = 0; i < n; i++) {
      const kl = <usize>load<u32>(base + 4 + i * 8);
      const vl = <usize>load<u32>(base + 8 + i * 8);
      if (data + kl + vl + 2 > end) break;
      const k = String.UTF8.decodeUnsafe(data, kl, false);
      data += kl + 1;
      const v = String.UTF8.decodeUnsafe(data, vl, false);
      data += vl + 1;
      list.add(k, v);
    }
    return list;
  }
}

/** A serialized map read from the host once, searched in place: no list is built. */
export class RawHeaders extends HeaderLookup {
  constructor(readonly raw: ArrayBuffer) { super(); }

  get(name: string): string | null {
    const at = HeaderList.rawFind(this.raw, name);
    return at == 0 ? null : String.UTF8.decodeUnsafe(<usize>(at >> 32), <usize>(at & 0xffffffff), false);
  }

  getDecimal(name: string): i32 {
    const at = HeaderList.rawFind(this.raw, name);
    if (at == 0) return -1;
    const p = <usize>(at >> 32), n = <usize>(at & 0xffffffff);
    if (n == 0 || n > 9) return -1;
    let v = 0;
    for (let i: usize = 0; i < n; i++) {
      const d = <i32>load<u8>(p + i) - 0x30;
      if (d < 0 || d > 9) return -1;
      v = v * 10 + d;
    }
    return v;
  }
}
