// The probe lease: one root context in the process at a time runs the background work. A lease
// expires after 3 intervals without renewal; a newer configuration takes it over from an older
// one, so after a reload the prober knows the current token list.
import { Status } from "../abi/enums";
import { getShared, lastCas, setShared } from "../runtime/shared_data";
import { decimalOf } from "../util/decimal";

/** A lease as stored: holder, expiry (ms) and the holder's configuration stamp. */
export class Lease {
  constructor(public holder: string, public expiresAt: i64, public stamp: i64) {}

  encode(): string {
    return this.holder + " " + this.expiresAt.toString() + " " + this.stamp.toString();
  }

  static decode(s: string): Lease | null {
    const a = s.indexOf(" ");
    const b = a < 0 ? -1 : s.indexOf(" ", a + 1);
    if (a <= 0 || b < 0) return null;
    const exp = decimalOf(s, a + 1, b);
    const stamp = decimalOf(s, b + 1);
    if (exp < 0 || stamp < 0) return null;
    return new Lease(s.substring(0, a), exp, stamp);
  }
}


/** Whether `me` (with configuration stamp `stamp`) may take or renew `current` at `now`. Pure. */
export function mayHold(current: Lease | null, me: string, stamp: i64, now: i64): bool {
  if (current == null) return true;
  if (current.holder == me) return true;
  if (current.expiresAt <= now) return true;
  return stamp > current.stamp;
}

/** Lease expiry: three intervals without renewal. */
export function leaseTtl(intervalMs: i64): i64 {
  return 3 * intervalMs;
}

/**
 * CAS given when creating a key. The host ignores the CAS of a set on a missing key, and refuses
 * one that differs from an existing key's: with a value no stored key has (the host's counter
 * reaches it only after 2^32 - 1 writes), a VM that raced another to create the key loses
 * instead of overwriting it, which cas 0 would do.
 */
export const CREATE_ONLY_CAS: u32 = 0xffffffff;

/** Takes or renews the lease in shared data; returns whether `me` holds it afterwards. */
export function acquireLease(key: ArrayBuffer, me: string, stamp: i64, now: i64, intervalMs: i64): bool {
  const current = readLease(key);
  const cas = current == null && lastCas == 0 ? CREATE_ONLY_CAS : lastCas;
  if (!mayHold(current, me, stamp, now)) return false;
  const next = new Lease(me, now + leaseTtl(intervalMs), stamp);
  return setShared(key, String.UTF8.encode(next.encode()), cas) == Status.Ok;
}

/** The lease as stored, or null when missing or unreadable (lastCas is that read's CAS). */
export function readLease(key: ArrayBuffer): Lease | null {
  const v = getShared(key);
  if (v == null) return null;
  return Lease.decode(String.UTF8.decode(v));
}
