// Host calls per request by kind, counted in the emulator on the success and the failure path.
import { Host } from '../tests/host/emulator.js';
import { roundTrip, type Upstream } from '../tests/host/gateway.js';

const KINDS: Array<[string, (name: string) => boolean]> = [
  ['shared-data reads', (n) => n === 'proxy_get_shared_data'],
  ['shared-data writes', (n) => n === 'proxy_set_shared_data'],
  ['header calls', (n) => n.includes('header_map')],
  ['body buffer calls', (n) => n.includes('buffer')],
  ['properties', (n) => n === 'proxy_get_property'],
  ['HTTP calls', (n) => n === 'proxy_http_call'],
  ['metric updates', (n) => n === 'proxy_increment_metric' || n === 'proxy_record_metric'],
  ['logs (incl. level checks)', (n) => n === 'proxy_log' || n === 'proxy_get_log_level'],
  ['clock', (n) => n === 'proxy_get_current_time_nanoseconds'],
  ['local responses / continues / context switches', (n) => ['proxy_send_local_response', 'proxy_continue_stream', 'proxy_set_effective_context'].includes(n)],
];

const CONFIG = {
  provider: {
    apiTokens: Array.from({ length: 8 }, (_, i) => `sk-bench-${i + 1}`),
    failover: { enabled: true, failureThreshold: 1000000, healthCheckInterval: 1000, healthCheckModel: 'm' },
    retryOnFailure: { enabled: true, maxRetries: 1, retryOnStatus: ['401', '403', '429', '5..'] },
  },
};

function perRequest(upstream: Upstream, n = 200): Record<string, number> {
  const host = new Host();
  const vm = host.createVm();
  vm.configure(CONFIG);
  roundTrip(vm, upstream);
  host.resetCallCounts();
  for (let i = 0; i < n; i++) roundTrip(vm, upstream);
  const counts: Record<string, number> = Object.fromEntries(KINDS.map(([k]) => [k, 0]));
  for (const [name, c] of host.hostCalls) {
    const kind = KINDS.find(([, match]) => match(name));
    if (kind) counts[kind[0]] += c;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / n]));
}

/** A markdown table of host calls per request on both paths. */
export function countHostCalls(): string {
  const success = perRequest(() => ({ status: 200, body: '{}' }));
  // Failure path: the first answer is a counted failure (500), the retry with another token succeeds.
  const failure = perRequest(({ call }) => (call ? { status: 200, body: '{}' } : { status: 500, body: '{}' }));
  const rows = KINDS.map(([k]) => `| ${k} | ${success[k]} | ${failure[k]} |`);
  return `\n### Host calls per request (emulator, failover + retry, 8 tokens)\n\n| kind | success path | failure path (500, then a successful retry) |\n|---|---:|---:|\n${rows.join('\n')}\n`;
}
