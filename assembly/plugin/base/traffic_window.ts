// Per key, the requests sent and the failures counted over about the last minute, for the whole
// process: Envoy keeps one counter per name for every worker, so reading the plugin's own counters
// every 10 s (from the root's tick, and when the status is asked for) and taking the difference
// with the sample a minute old needs no shared data and nothing on the request path.
import { PluginMetrics } from "./metrics";

const EVERY_MS: i64 = 10_000;
const SPAN_MS: i64 = 60_000;
/** Samples kept: enough to reach a minute back at one per 10 s. */
const KEPT = 8;

/** What the status document shows: per key, counts over the last `windowMs` ms. */
export class TrafficCounts {
  constructor(public requests: i64[], public failures: i64[], public windowMs: i64) {}
}

class Sample {
  constructor(public at: i64, public requests: i64[], public failures: i64[]) {}
}

export class TrafficWindow {
  private samples: Sample[] = [];

  /** The first sample is taken at `now` (configure time). */
  constructor(private metrics: PluginMetrics, private keys: i32, now: i64) {
    this.samples.push(this.read(now));
  }

  /** Takes a sample when the newest is 10 s old or there is none. */
  sampleIfDue(now: i64): void {
    const n = this.samples.length;
    if (n > 0 && now - this.samples[n - 1].at < EVERY_MS) return;
    this.samples.push(this.read(now));
    if (this.samples.length > KEPT) this.samples.shift();
  }

  /** The counts since the newest sample at least a minute old (or the oldest there is). */
  counts(now: i64): TrafficCounts {
    const current = this.read(now);
    let base: Sample | null = this.samples.length > 0 ? this.samples[0] : null;
    for (let k = this.samples.length - 1; k >= 0; k--) {
      if (now - this.samples[k].at < SPAN_MS) continue;
      base = this.samples[k];
      break;
    }
    const requests = new Array<i64>(this.keys);
    const failures = new Array<i64>(this.keys);
    for (let i = 0; i < this.keys; i++) {
      requests[i] = base != null ? current.requests[i] - base.requests[i] : 0;
      failures[i] = base != null ? current.failures[i] - base.failures[i] : 0;
    }
    return new TrafficCounts(requests, failures, base != null ? now - base.at : 0);
  }

  private read(now: i64): Sample {
    const requests = new Array<i64>(this.keys);
    const failures = new Array<i64>(this.keys);
    for (let i = 0; i < this.keys; i++) {
      requests[i] = this.metrics.requestsOf(i);
      failures[i] = this.metrics.failuresOf(i);
    }
    return new Sample(now, requests, failures);
  }
}
