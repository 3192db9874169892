// Small statistics for the benchmark: medians, spread, and a bootstrap interval for a difference
// of medians (seeded, so a run prints the same interval for the same samples).

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

/** 95% bootstrap interval of median(a) − median(b), resampling each set of rounds with replacement. */
export function bootstrapDiff(a: readonly number[], b: readonly number[], resamples = 10_000, seed = 12345): [number, number] {
  const next = rng(seed);
  const pick = (xs: readonly number[]) => Array.from(xs, () => xs[Math.floor(next() * xs.length)]);
  const diffs: number[] = [];
  for (let i = 0; i < resamples; i++) diffs.push(median(pick(a)) - median(pick(b)));
  diffs.sort((x, y) => x - y);
  return [diffs[Math.floor(resamples * 0.025)], diffs[Math.floor(resamples * 0.975)]];
}

/** "12.3 (10.1–14.2)": a median and its min–max. */
export function spread(xs: readonly number[], digits = 1): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

/** One line for a difference: medians, the interval, and whether it is distinguishable from zero. */
export function diffLine(label: string, a: readonly number[], b: readonly number[], unit: string, digits = 1): string {
  const [lo, hi] = bootstrapDiff(a, b);
  const verdict = lo <= 0 && hi >= 0 ? 'not distinguishable' : hi < 0 ? 'lower' : 'higher';
  return `| ${label} | ${(median(a) - median(b)).toFixed(digits)} ${unit} | ${lo.toFixed(digits)} … ${hi.toFixed(digits)} | ${verdict} |`;
}
