// The provider's own rate-limit headers (OpenAI/Azure `x-ratelimit-*`, Anthropic
// `anthropic-ratelimit-*`): when a key reports nothing left, until when. Pure.
import { daysFromCivil, digits, retryAfterDeadline } from "../judge/retry_after";

/** Header names one provider type uses. */
export class RateLimitHeaders {
  constructor(public remainingRequests: string, public remainingTokens: string,
              public resetRequests: string, public resetTokens: string, public resetIsTime: bool,
              public limitRequests: string) {}

  /** Anthropic's for `claude`/`anthropic`, OpenAI's (also Azure's and compatible providers') otherwise. */
  static forType(type: string): RateLimitHeaders {
    const t = type.toLowerCase();
    if (t == "claude" || t == "anthropic") {
      return new RateLimitHeaders("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset", true, "anthropic-ratelimit-requests-limit");
    }
    return new RateLimitHeaders("x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
      "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", false, "x-ratelimit-limit-requests");
  }
}

/** Upper bound on a reset the plugin honours, as for Retry-After. */
const MAX_RESET_MS: f64 = 3_600_000;

/**
 * A Go-style duration as OpenAI sends it (`1s`, `6m0s`, `20ms`, `1h2m3.5s`) in milliseconds
 * (rounded up, capped at an hour); -1 when malformed.
 */
export function parseDuration(s: string): i64 {
  if (s.length == 0 || s.length > 32) return -1;
  let total: f64 = 0;
  let i = 0;
  while (i < s.length) {
    const start = i;
    while (i < s.length && ((s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) || s.charCodeAt(i) == 0x2e)) i++;
    if (i == start) return -1;
    const value = parseFloat(s.substring(start, i));
    if (isNaN(value)) return -1;
    const unitStart = i;
    while (i < s.length && !((s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) || s.charCodeAt(i) == 0x2e)) i++;
    const unit = s.substring(unitStart, i);
    let scale: f64;
    if (unit == "h") scale = 3_600_000;
    else if (unit == "m") scale = 60_000;
    else if (unit == "s") scale = 1000;
    else if (unit == "ms") scale = 1;
    else if (unit == "us" || unit == "µs") scale = 0.001;
    else if (unit == "ns") scale = 0.000001;
    else return -1;
    total += value * scale;
  }
  return <i64>Math.ceil(Math.min(total, MAX_RESET_MS));
}

/** An RFC 3339 time (`2026-11-22T05:01:02Z`, fraction and offset allowed) in ms since 1970; -1 when malformed. */
export function parseRfc3339(s: string): i64 {
  if (s.length < 20 || s.charAt(4) != "-" || s.charAt(7) != "-" || (s.charAt(10) != "T" && s.charAt(10) != "t") ||
      s.charAt(13) != ":" || s.charAt(16) != ":") return -1;
  const y = <i32>digits(s, 0, 4), mo = <i32>digits(s, 5, 2), d = <i32>digits(s, 8, 2);
  const h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return -1;
  let i = 19;
  let ms: i64 = 0;
  if (i < s.length && s.charAt(i) == ".") {
    i++;
    let scale: i64 = 100;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
      ms += <i64>(s.charCodeAt(i) - 0x30) * scale;
      scale /= 10;
      i++;
    }
  }
  let offset: i64 = 0;
  if (i < s.length && (s.charAt(i) == "Z" || s.charAt(i) == "z")) {
    i++;
  } else if (i + 6 == s.length && (s.charAt(i) == "+" || s.charAt(i) == "-") && s.charAt(i + 3) == ":") {
    const oh = digits(s, i + 1, 2), om = digits(s, i + 4, 2);
    if (oh < 0 || om < 0) return -1;
    offset = (<i64>oh * 60 + om) * 60_000 * (s.charAt(i) == "+" ? 1 : -1);
    i += 6;
  } else {
    return -1;
  }
  if (i != s.length) return -1;
  const days = daysFromCivil(y, mo, d);
  return ((days * 24 + h) * 60 + mi) * 60_000 + <i64>sec * 1000 + ms - offset;
}

/**
 * When the key may be used again (ms), given the reset header's value, or 0 when the value is
 * missing or malformed (then the key is held back for one second, see limitUntil).
 */
export function resetAt(value: string | null, isTime: bool, now: i64): i64 {
  if (value == null) return 0;
  const v = value.trim();
  if (isTime) {
    const at = parseRfc3339(v);
    if (at <= now) return 0;
    return at - now > <i64>MAX_RESET_MS ? now + <i64>MAX_RESET_MS : at;
  }
  const ms = parseDuration(v);
  if (ms >= 0) return ms == 0 ? 0 : now + ms;
  // Some compatible providers send plain seconds, as in Retry-After.
  return retryAfterDeadline(v, now);
}

/**
 * When a key whose provider reports no requests left may take one again. OpenAI and Anthropic
 * refill a key's requests continuously and report the time until the bucket is full: one request
 * comes back after `reset / limit`. A key with `burst` is declared to sit behind a provider that
 * counts in windows, which gives nothing back before the reset; so is a key without `rpm` (nothing
 * says how the provider counts) or an answer without the limit header.
 */
export function requestsBackAt(reset: i64, now: i64, limit: i32, continuous: bool): i64 {
  if (!continuous || limit <= 0 || reset <= now) return reset;
  return now + max<i64>(1, (reset - now + <i64>limit - 1) / <i64>limit);
}

/** How long a key that reports nothing left, with no usable reset, is held back. */
export const DEFAULT_HOLD_MS: i64 = 1000;

/** A key's headroom keeps at least this share (thousandths), so a nearly spent key is still tried. */
export const MIN_HEADROOM: i32 = 50;

/**
 * Each key's headroom as this VM last saw it in the provider's headers (remaining requests over the
 * limit, in thousandths): keys with more room get more of the traffic. Local to the VM (it changes
 * with every answer, so it is never written to shared data).
 */
export class Headroom {
  private permille: i32[];
  private reduced: i32 = 0;

  constructor(n: i32) { this.permille = new Array<i32>(n).fill(1000); }

  /** The table for KeyChooser, or null while every key has all its room. */
  get table(): i32[] | null { return this.reduced > 0 ? this.permille : null; }

  /** Records key i's remaining requests out of its limit. */
  set(i: i32, remaining: i32, limit: i32): void {
    if (remaining < 0 || limit <= 0) return;
    const p = min(1000, max(MIN_HEADROOM, <i32>(<i64>remaining * 1000 / <i64>limit)));
    const was = this.permille[i];
    if (was == p) return;
    if (was == 1000) this.reduced++;
    if (p == 1000) this.reduced--;
    this.permille[i] = p;
  }
}
