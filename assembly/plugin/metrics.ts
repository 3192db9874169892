// The plugin's metrics (Envoy shows them at /stats/prometheus). Defined at configure time;
// the same name in several VMs is one shared stat.
import { MetricType } from "../abi/enums";
import { NO_METRIC, defineMetric, incrementMetric } from "../runtime/metrics";

/** Counters of one configuration. */
export class PluginMetrics {
  private retriesAttempted: i64 = NO_METRIC;
  private retriesSucceeded: i64 = NO_METRIC;
  private retriesExhausted: i64 = NO_METRIC;

  /** Defines the metrics; configure phase. */
  define(): void {
    this.retriesAttempted = defineMetric(MetricType.Counter, "ai_token_failover.retries.attempted");
    this.retriesSucceeded = defineMetric(MetricType.Counter, "ai_token_failover.retries.succeeded");
    this.retriesExhausted = defineMetric(MetricType.Counter, "ai_token_failover.retries.exhausted");
  }

  retryAttempted(): void { incrementMetric(this.retriesAttempted); }
  retrySucceeded(): void { incrementMetric(this.retriesSucceeded); }
  retryExhausted(): void { incrementMetric(this.retriesExhausted); }
}
