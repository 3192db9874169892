// The probe lease in shared data: taken or renewed with compare-and-swap, read for the status page.
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, readShared } from "../../runtime/shared_data";
import { Lease, leaseTtl, mayHold } from "./lease";
import { LEASE_RECORD } from "../base/shared_record";

/** Takes or renews the lease in shared data; returns whether `me` holds it afterwards. */
export function acquireLease(key: ArrayBuffer, me: string, stamp: i64, now: i64, intervalMs: i64): bool {
  return compareAndSwap(key, new TakeLease(me, stamp, now, intervalMs)) == CasOutcome.Stored;
}

/** The lease as stored, or null when missing or unreadable. */
export function readLease(key: ArrayBuffer): Lease | null {
  const payload = LEASE_RECORD.decode(readShared(key));
  return payload != null ? Lease.decode(payload) : null;
}

class TakeLease extends SharedUpdate {
  constructor(private me: string, private stamp: i64, private now: i64, private intervalMs: i64) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const payload = LEASE_RECORD.decode(current);
    const lease = payload != null ? Lease.decode(payload) : null;
    if (!mayHold(lease, this.me, this.stamp, this.now)) return null;
    return LEASE_RECORD.encode(new Lease(this.me, this.now + leaseTtl(this.intervalMs), this.stamp).encode());
  }
}
