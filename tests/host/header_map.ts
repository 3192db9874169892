// The ABI's serialized header-map layout, and a case-insensitive ordered header list.
export type HeaderPair = [string, string];
/** Headers as tests write them: an object or a list of pairs. */
export type HeaderInit = Record<string, string | number> | Array<[string, string | number]>;

export function serializeMap(pairs: ReadonlyArray<readonly [unknown, unknown]>): Buffer {
  const enc = pairs.map(([k, v]) => [Buffer.from(String(k)), Buffer.from(String(v))] as const);
  let size = 4 + enc.length * 8;
  for (const [k, v] of enc) size += k.length + v.length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(enc.length, 0);
  let data = 4 + enc.length * 8;
  enc.forEach(([k, v], i) => {
    out.writeUInt32LE(k.length, 4 + i * 8);
    out.writeUInt32LE(v.length, 8 + i * 8);
    k.copy(out, data); data += k.length + 1;
    v.copy(out, data); data += v.length + 1;
  });
  return out;
}

export function parseMap(buf: Buffer): HeaderPair[] {
  if (buf.length < 4) return [];
  const n = buf.readUInt32LE(0);
  const pairs: HeaderPair[] = [];
  let data = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const kl = buf.readUInt32LE(4 + i * 8);
    const vl = buf.readUInt32LE(8 + i * 8);
    const k = buf.subarray(data, data + kl).toString('utf8'); data += kl + 1;
    const v = buf.subarray(data, data + vl).toString('utf8'); data += vl + 1;
    pairs.push([k, v]);
  }
  return pairs;
}

/** Ordered header pairs with Envoy's behaviour: names stored lower-case. */
export class Headers {
  pairs: HeaderPair[] = [];

  constructor(init: HeaderInit = []) {
    const list = Array.isArray(init) ? init : Object.entries(init);
    for (const [k, v] of list) this.add(k, v);
  }
  add(k: string, v: string | number): void { this.pairs.push([String(k).toLowerCase(), String(v)]); }
  get(k: string): string | null { const p = this.pairs.find(([n]) => n === k.toLowerCase()); return p ? p[1] : null; }
  getAll(k: string): string[] { return this.pairs.filter(([n]) => n === k.toLowerCase()).map(([, v]) => v); }
  remove(k: string): void { this.pairs = this.pairs.filter(([n]) => n !== k.toLowerCase()); }
  replace(k: string, v: string | number): void { this.remove(k); this.add(k, v); }
  toObject(): Record<string, string> { return Object.fromEntries(this.pairs); }
}
