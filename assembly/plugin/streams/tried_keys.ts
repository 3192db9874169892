// The keys each request's attempts used, in one VM, for the upstream placement: Envoy builds the
// upstream filter anew for every attempt of its router, on the worker (the VM) of the request, so
// the request's earlier attempts are found by its x-request-id. Bounded: the oldest requests are
// forgotten first, and any entry after ENTRY_TTL_MS. Pure.

/** Requests remembered at once per VM. */
const CAPACITY = 4096;
/** An entry older than this is a request long over. */
const ENTRY_TTL_MS: i64 = 600_000;

class Entry {
  keys: i32[] = [];
  constructor(public at: i64) {}
}

export class TriedKeys {
  private entries: Map<string, Entry> = new Map();
  private order: string[] = [];
  private next: i32 = 0;

  /**
   * The keys earlier attempts of request `id` used (empty for its first attempt). `attempt`: Envoy's
   * x-envoy-attempt-count (0: not sent); attempt 1 starts the request afresh.
   */
  tried(id: string, attempt: i32, now: i64): i32[] {
    if (id.length == 0 || !this.entries.has(id)) return [];
    const e = this.entries.get(id);
    // Emptied in place, not deleted: the id keeps its one place in the eviction order.
    if (attempt == 1 || now - e.at > ENTRY_TTL_MS) {
      e.keys.length = 0;
      e.at = now;
      return [];
    }
    return e.keys.slice(0);
  }

  /** Records that an attempt of request `id` went out with key `key`. */
  record(id: string, key: i32, now: i64): void {
    if (id.length == 0) return;
    if (this.entries.has(id)) {
      const e = this.entries.get(id);
      e.keys.push(key);
      e.at = now;
      return;
    }
    if (this.order.length < CAPACITY) {
      this.order.push(id);
    } else {
      const oldest = this.order[this.next];
      this.entries.delete(oldest);
      this.order[this.next] = id;
      this.next = (this.next + 1) % CAPACITY;
    }
    const e = new Entry(now);
    e.keys.push(key);
    this.entries.set(id, e);
  }

  get size(): i32 { return this.entries.size; }
}
