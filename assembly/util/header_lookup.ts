// What judging an answer reads of its headers, whether they are a parsed list (a call's answer) or
// the host's serialized map read once (the route's answer). Pure.
export abstract class HeaderLookup {
  /** The first value of `name` (lower case), or null. */
  abstract get(name: string): string | null;
  /** The first value of `name` as a plain decimal number (at most 9 digits), -1 when absent or not one. */
  abstract getDecimal(name: string): i32;
}
