// A growable byte buffer for bodies that arrive in chunks: the first chunk is kept as it is (most
// bodies arrive whole), more chunks go into a buffer that doubles, up to a stated cap. Pure.

export class ByteBuffer {
  private data: ArrayBuffer | null = null;
  /** Bytes held. */
  used: i32 = 0;

  /** Bytes of memory the buffer holds (what it costs, not what it keeps). */
  get capacity(): i32 {
    const d = this.data;
    return d != null ? d.byteLength : 0;
  }

  /** The capacity appending `n` more bytes leads to (at most `cap`). */
  capacityFor(n: i32, cap: i32): i32 {
    const d = this.data;
    const need = this.used + n;
    if (d == null) return min(need, cap);
    if (need <= d.byteLength) return d.byteLength;
    let grown = d.byteLength * 2;
    while (grown < need) grown *= 2;
    return min(grown, cap);
  }

  /** Appends the first `n` bytes of `chunk`, beyond `cap` bytes nothing. */
  append(chunk: ArrayBuffer, n: i32, cap: i32): void {
    const room = cap - this.used;
    const count = n < room ? n : room;
    if (count <= 0) return;
    let d = this.data;
    if (d == null && count == chunk.byteLength) {
      this.data = chunk;
      this.used = count;
      return;
    }
    const size = this.capacityFor(count, cap);
    if (d == null || size > d.byteLength) {
      const grown = new ArrayBuffer(size);
      if (d != null) memory.copy(changetype<usize>(grown), changetype<usize>(d), this.used);
      this.data = d = grown;
    }
    memory.copy(changetype<usize>(d) + this.used, changetype<usize>(chunk), count);
    this.used += count;
  }

  /** The bytes held, exactly (the buffer is trimmed to them once). */
  bytes(): ArrayBuffer {
    const d = this.data;
    if (d == null) return new ArrayBuffer(0);
    if (d.byteLength != this.used) {
      const exact = d.slice(0, this.used);
      this.data = exact;
      return exact;
    }
    return d;
  }

  /** The buffer's memory as it is (its first `used` bytes are the data), or null when empty. */
  get raw(): ArrayBuffer | null { return this.data; }

  clear(): void {
    this.data = null;
    this.used = 0;
  }
}
