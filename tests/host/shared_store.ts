// Process-wide shared data with Envoy's rules: keys scoped by vm_id; one global CAS counter; set
// with cas 0 always writes; set on a missing key ignores cas; a mismatching cas on an existing key
// is refused.
export const CAS_MISMATCH = 8;
export const NOT_FOUND = 1;
export const OK = 0;

export interface SharedEntry { value: Buffer; cas: number }

export class SharedStore {
  private scopes = new Map<string, Map<string, SharedEntry>>([['', new Map()]]);
  counter = 0;
  reads = 0;
  writes = 0;

  private scope(vmId: string): Map<string, SharedEntry> {
    let m = this.scopes.get(vmId);
    if (!m) this.scopes.set(vmId, (m = new Map()));
    return m;
  }

  /** The keys held for VMs of `vmId` (the default vm_id: ""). */
  keys(vmId = ''): string[] { return [...this.scope(vmId).keys()]; }

  private afterRead = new Map<string, () => void>();
  private beforeWrite = new Map<string, () => void>();

  /**
   * Runs `fn` once, right after the next read of `key` (`after: 'read'`) or right before its next
   * write: another VM's work lands between one VM's read and its write, as Envoy's workers may.
   */
  interleave(key: string, at: 'read' | 'write', fn: () => void): void {
    (at === 'read' ? this.afterRead : this.beforeWrite).set(key, fn);
  }

  private runOnce(hooks: Map<string, () => void>, key: string): void {
    const fn = hooks.get(key);
    if (!fn) return;
    hooks.delete(key);
    fn();
  }

  get(key: string, vmId = ''): SharedEntry | null {
    this.reads++;
    const entry = this.scope(vmId).get(key) ?? null;
    this.runOnce(this.afterRead, key);
    return entry;
  }

  /** Removes a key (as a restart would). */
  delete(key: string, vmId = ''): void { this.scope(vmId).delete(key); }

  set(key: string, value: Uint8Array | string, cas: number, vmId = ''): number {
    this.runOnce(this.beforeWrite, key);
    const entries = this.scope(vmId);
    const existing = entries.get(key);
    if (existing && cas !== 0 && cas !== existing.cas) return CAS_MISMATCH;
    this.writes++;
    entries.set(key, { value: Buffer.from(value), cas: ++this.counter });
    return OK;
  }

  /** Test helper: the value of a key (of the empty vm_id) as text, or null. */
  text(key: string): string | null {
    const e = this.scope('').get(key);
    return e ? e.value.toString('utf8') : null;
  }
}
