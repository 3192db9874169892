// Process-wide shared data with Envoy's rules: one global CAS counter; set with cas 0 always
// writes; set on a missing key ignores cas; a mismatching cas on an existing key is refused.
export const CAS_MISMATCH = 8;
export const NOT_FOUND = 1;
export const OK = 0;

export interface SharedEntry { value: Buffer; cas: number }

export class SharedStore {
  entries = new Map<string, SharedEntry>();
  counter = 0;
  reads = 0;
  writes = 0;

  get(key: string): SharedEntry | null {
    this.reads++;
    return this.entries.get(key) ?? null;
  }

  set(key: string, value: Uint8Array | string, cas: number): number {
    const existing = this.entries.get(key);
    if (existing && cas !== 0 && cas !== existing.cas) return CAS_MISMATCH;
    this.writes++;
    this.entries.set(key, { value: Buffer.from(value), cas: ++this.counter });
    return OK;
  }

  /** Test helper: the value of a key as text, or null. */
  text(key: string): string | null {
    const e = this.entries.get(key);
    return e ? e.value.toString('utf8') : null;
  }
}
