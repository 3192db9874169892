// A source of the current time (ms), for code that reads it only on rare paths and is tested
// without a host. Pure.

export abstract class Clock {
  /** The current time in milliseconds. */
  abstract now(): i64;
}
