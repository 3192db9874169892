// What one VM holds of request bodies kept for retries, across its streams, and how an upload
// that stalls gives its room back: Wasm memory never shrinks, so what is held at once is bounded
// (maxHeldBytes), and a client that starts many uploads and stalls them must not keep every other
// request from being retried. Pure.
import { BodySource } from "../judge/request_mark";

/** Sweeps for stalled uploads are at least this far apart: the time an upload has to show it moves. */
export const STALL_MS: i64 = 1000;
/** An upload still arriving that grew less than this between two sweeps is stalled. */
export const MIN_GROWTH_BYTES: i64 = 16384;

/** A body kept for a retry, from its first byte until its request is over. */
export abstract class KeptBody extends BodySource {
  /** Bytes it counts in its VM's HeldBodies. */
  counted: i64 = 0;
  /** Bytes that have arrived so far. */
  size: i64 = 0;
  /** Its size at the last sweep that saw it arriving (-1: none has yet). */
  sizeAtSweep: i64 = -1;
  /** Its place among the uploads still arriving (-1: not arriving). */
  slot: i32 = -1;
  /** Gives the body up: its request goes without a retry. */
  abstract giveUp(): void;
}

export class HeldBodies {
  used: i64 = 0;
  /** Bodies still arriving. */
  private arriving: KeptBody[] = [];
  private sweptAt: i64 = 0;

  constructor(public limit: i64) {}

  /** `body` started arriving. */
  starts(body: KeptBody): void {
    if (body.slot >= 0) return;
    body.slot = this.arriving.length;
    this.arriving.push(body);
  }

  /** `body` is complete, or given up. */
  ends(body: KeptBody): void {
    const k = body.slot;
    if (k < 0) return;
    const last = this.arriving.pop();
    if (last !== body) {
      this.arriving[k] = last;
      last.slot = k;
    }
    body.slot = -1;
  }

  /**
   * Whether `need` more bytes fit. Over the limit, and at most once per STALL_MS (`now`), the
   * uploads still arriving that grew less than MIN_GROWTH_BYTES since the previous sweep give their
   * bodies up (their requests go without a retry), so stalled or trickling uploads cannot hold the
   * room every other request needs.
   */
  fits(need: i64, now: i64): bool {
    if (this.used + need <= this.limit) return true;
    if (now - this.sweptAt < STALL_MS) return false;
    this.sweptAt = now;
    // Backwards: a body given up leaves its place to the last one, already seen.
    for (let k = this.arriving.length - 1; k >= 0; k--) {
      if (k >= this.arriving.length) continue;
      const b = this.arriving[k];
      if (b.sizeAtSweep >= 0 && b.size - b.sizeAtSweep < MIN_GROWTH_BYTES) b.giveUp();
      else b.sizeAtSweep = b.size;
    }
    return this.used + need <= this.limit;
  }
}
