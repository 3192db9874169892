// Values every layer shares about a key's rate and budget. Pure.

/** A key's full share (rateFactor in thousandths). */
export const FULL_RATE: i32 = 1000;
/** In a budget snapshot: the key has no such budget. */
export const NO_BUDGET_LEVEL: i64 = i64.MIN_VALUE;
