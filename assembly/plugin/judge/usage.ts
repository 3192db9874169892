// Token usage reported by the provider: the last `"total_tokens": N` in a JSON answer or in the
// final chunk of a stream, found by a state machine fed chunk by chunk (no copy, linear).

const NEEDLE = "\"total_tokens\"";

export class UsageScanner {
  /** The last total found, -1 while none. */
  total: i64 = -1;
  private matched: i32 = 0;
  private value: i64 = -1;

  /** Scans the next `length` bytes at `ptr`. */
  feed(ptr: usize, length: usize): void {
    for (let k: usize = 0; k < length; k++) this.step(<i32>load<u8>(ptr + k));
  }

  /** Scans a whole buffer. */
  feedBuffer(b: ArrayBuffer): void { this.feed(changetype<usize>(b), <usize>b.byteLength); }

  private step(c: i32): void {
    const n = NEEDLE.length;
    if (this.matched < n) {
      if (c == NEEDLE.charCodeAt(this.matched)) this.matched++;
      // Only the needle's first character can restart a match.
      else this.matched = c == 0x22 ? 1 : 0;
      return;
    }
    // After the name: spaces and the colon, then the digits.
    if (c >= 0x30 && c <= 0x39 && this.value < 1_000_000_000_000) {
      this.value = (this.value < 0 ? 0 : this.value * 10) + (c - 0x30);
      this.total = this.value;
      return;
    }
    if (this.value < 0 && (c == 0x20 || c == 0x3a || c == 0x09 || c == 0x0a || c == 0x0d)) return;
    this.value = -1;
    this.matched = c == 0x22 ? 1 : 0;
  }
}
