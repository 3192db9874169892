// How many waiters of each priority one VM released lately while waiters of another priority were
// waiting too (releases that chose between priorities): the measure the release shares bound.
// Two windows of WINDOW_MS, the current and the one before, so the count neither forgets at once
// nor remembers a flood long past. Pure.
/** Length of one counting window (ms). */
export const WINDOW_MS: i64 = 5000;

export class ReleaseWindow {
  /** Index of the current window (time / WINDOW_MS). */
  win: i64 = 0;
  current: i32[] = [0, 0, 0, 0];
  previous: i32[] = [0, 0, 0, 0];

  /** Moves to the window of `now`: the current one becomes the previous, or both are forgotten. */
  roll(now: i64): void {
    const w = now / WINDOW_MS;
    if (w == this.win) return;
    for (let r = 0; r < this.current.length; r++) {
      this.previous[r] = w == this.win + 1 ? this.current[r] : 0;
      this.current[r] = 0;
    }
    this.win = w;
  }

  /** One release of a waiter of `rank` at `now`. */
  add(rank: i32, now: i64): void {
    this.roll(now);
    this.current[rank]++;
  }

  /** Whether it holds any release that still counts at `now`. */
  counts(now: i64): bool {
    const w = now / WINDOW_MS;
    for (let r = 0; r < this.current.length; r++) {
      if (w == this.win && (this.current[r] > 0 || this.previous[r] > 0)) return true;
      if (w == this.win + 1 && this.current[r] > 0) return true;
    }
    return false;
  }

  /** Adds the releases that still count at `now` (both windows) to `into`, by rank. */
  addTo(into: i32[], now: i64): void {
    const w = now / WINDOW_MS;
    for (let r = 0; r < this.current.length; r++) {
      if (w == this.win) into[r] += this.current[r] + this.previous[r];
      else if (w == this.win + 1) into[r] += this.current[r];
    }
  }
}
