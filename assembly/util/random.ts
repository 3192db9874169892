// A small PRNG (xorshift64*) seeded once per VM from the host; Math.random would import env.seed.

/** Pseudo-random generator; pure once seeded. */
export class Random {
  private state: u64;
  constructor(seed: u64) { this.state = seed == 0 ? 0x9e3779b97f4a7c15 : seed; }

  /** Next 64 random bits. */
  next(): u64 {
    let x = this.state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    this.state = x;
    return x * 0x2545f4914f6cdd1d;
  }

  /** Uniform integer in [0, n); n > 0. */
  below(n: i32): i32 {
    return <i32>((this.next() >> 33) % <u64>n);
  }
}
