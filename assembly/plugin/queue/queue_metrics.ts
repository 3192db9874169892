// The admission queue's metrics: waiting requests by priority (a gauge every VM moves up and down,
// so it counts the process), wait time (a histogram, ms), and each waiter's outcome.
import { MetricType } from "../../abi/enums";
import { NO_METRIC, defineMetric, incrementMetric, recordMetric } from "../../runtime/metrics";
import { PRIORITIES } from "../config/queue_config";

export enum Outcome { Released, Expired, Full, Dropped, PassedThrough, ClientLeft }
const OUTCOMES = ["released", "expired", "full", "dropped", "passed_through", "client_left"];

export class QueueMetrics {
  private waiting: i64[] = [];
  private outcomes: i64[] = [];
  private waitMs: i64 = NO_METRIC;

  /** `pool`: the pool's metric label (see poolLabel). */
  constructor(pool: string) {
    const p = "ai_token_failover.pool." + pool + ".queue.";
    for (let r = 0; r < PRIORITIES.length; r++) this.waiting.push(defineMetric(MetricType.Gauge, p + "waiting." + PRIORITIES[r]));
    for (let k = 0; k < OUTCOMES.length; k++) this.outcomes.push(defineMetric(MetricType.Counter, p + "outcome." + OUTCOMES[k]));
    this.waitMs = defineMetric(MetricType.Histogram, p + "wait_ms");
  }

  /** A request of rank `rank` starts (+1) or stops (-1) waiting. */
  waitingMoved(rank: i32, delta: i64): void { incrementMetric(this.waiting[rank], delta); }

  /** A request left the queue after `waitedMs`. */
  ended(outcome: Outcome, waitedMs: i64): void {
    incrementMetric(this.outcomes[outcome]);
    recordMetric(this.waitMs, <u64>max<i64>(0, waitedMs));
  }
}
