// What one VM holds of request bodies kept for retries, across its streams. Pure.

/**
 * Request body bytes one VM holds for retries, across its streams: Wasm memory never shrinks, so
 * what is held at once is bounded (`limit`), whatever the concurrency.
 */
export class HeldBodies {
  used: i64 = 0;
  constructor(public limit: i64) {}
}
