// Process-wide shared data with Envoy's rules: keys scoped by vm_id; one global CAS counter; set
// with cas 0 always writes; set on a missing key ignores cas; a mismatching cas on an existing key
// is refused.
export const CAS_MISMATCH = 8;
export const NOT_FOUND = 1;
export const OK = 0;

export interface SharedEntry { value: Buffer; cas: number }

export class SharedStore {
  /** The entries of the empty vm_id (the one the tests' VMs use). */
  entries = new Map<string, SharedEntry>();
  private scopes = new Map<string, Map<string, SharedEntry>>([['', this.entries]]);
  counter = 0;
  reads = 0;
  writes = 0;

  private scope(vmId: string): Map<string, SharedEntry> {
    let m = this.scopes.get(vmId);
    if (!m) this.scopes.set(vmId, (m = new Map()));
    return m;
  }

  get(key: string, vmId = ''): SharedEntry | null {
    this.reads++;
    return this.scope(vmId).get(key) ?? null;
  }

  set(key: string, value: Uint8Array | string, cas: number, vmId = ''): number {
    const entries = this.scope(vmId);
    const existing = entries.get(key);
    if (existing && cas !== 0 && cas !== existing.cas) return CAS_MISMATCH;
    this.writes++;
    entries.set(key, { value: Buffer.from(value), cas: ++this.counter });
    return OK;
  }

  /** Test helper: the value of a key as text, or null. */
  text(key: string): string | null {
    const e = this.entries.get(key);
    return e ? e.value.toString('utf8') : null;
  }
}
