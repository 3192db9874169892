// The probe lease: one root context in the process at a time runs the background work. A lease
// expires after 3 intervals without renewal; a newer configuration takes it over from an older
// one, so after a reload the prober knows the current token list. Pure (see lease_store.ts).
import { decimalOf } from "../../util/decimal";

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
