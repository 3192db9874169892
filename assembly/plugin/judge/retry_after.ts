// Retry-After (RFC 9110 10.2.3): delay-seconds or an IMF-fixdate such as
// "Sun, 06 Nov 1994 08:49:37 GMT". Pure.
import { decimalOf } from "../../util/decimal";

const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
/** Upper bound on a honoured Retry-After, so a bogus header cannot bench a token for days. */
export const MAX_RETRY_AFTER_MS: i64 = 3_600_000;

/** The decimal number in `count` characters of `s` from `from`, or -1 when one is not a digit. */
export function digits(s: string, from: i32, count: i32): i64 {
  return decimalOf(s, from, from + count);
}

/** Days since 1970-01-01 of a civil date (proleptic Gregorian). */
export function daysFromCivil(y: i32, m: i32, d: i32): i64 {
  const yy: i64 = m <= 2 ? y - 1 : y;
  const era: i64 = (yy >= 0 ? yy : yy - 399) / 400;
  const yoe = yy - era * 400;
  const mp: i64 = m > 2 ? m - 3 : m + 9;
  const doy = (153 * mp + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/** Absolute time (ms) the header asks to wait until, capped; 0 when absent, past or malformed. */
export function retryAfterDeadline(value: string | null, now: i64): i64 {
  if (value == null) return 0;
  const v = value.trim();
  if (v.length == 0) return 0;
  let at: i64 = 0;
  if (v.length <= 18 && digits(v, 0, v.length) >= 0) {
    // Capped before scaling, so a huge delay cannot overflow.
    const seconds = digits(v, 0, v.length);
    at = now + (seconds > MAX_RETRY_AFTER_MS / 1000 ? MAX_RETRY_AFTER_MS : seconds * 1000);
  } else {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    if (v.length != 29 || v.charAt(3) != "," || !v.endsWith(" GMT")) return 0;
    const day = <i32>digits(v, 5, 2);
    const month = MONTHS.indexOf(v.substring(8, 11));
    const year = <i32>digits(v, 12, 4);
    const hh = digits(v, 17, 2), mm = digits(v, 20, 2), ss = digits(v, 23, 2);
    if (day < 1 || month < 0 || month % 3 != 0 || year < 1970 || hh < 0 || mm < 0 || ss < 0) return 0;
    const days = daysFromCivil(year, month / 3 + 1, day);
    at = ((days * 24 + hh) * 60 + mm) * 60_000 + <i64>ss * 1000;
  }
  if (at <= now) return 0;
  return at - now > MAX_RETRY_AFTER_MS ? now + MAX_RETRY_AFTER_MS : at;
}
