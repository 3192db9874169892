// The module-only figure: the plugin and the empty filter run the same request sequences in the
// Node host emulator, in the same process, interleaved; the time spent inside each module's
// callbacks (host functions they call included) is divided by the requests. Stable because it
// does not share cores with a load generator or an upstream.
import { Host, type Vm } from '../tests/host/emulator.js';
import type { PluginConfig } from '../envoy/config.js';
import { CHAT, roundTrip } from '../tests/host/gateway.js';
import { median, spread, diffLine } from './stats.js';

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `sk-bench-${i + 1}`);
const pluginConfig = ({ n = 8, retry = true, rpm = 0, queue = false } = {}): PluginConfig => ({
  ...(queue ? { queue: { enabled: true } } : {}),
  provider: {
    apiTokens: rpm > 0 ? keys(n).map((token) => ({ token, rpm })) : keys(n),
    // A threshold never reached: the failing key keeps failing and being retried, as in steady state.
    failover: { enabled: true, failureThreshold: 1_000_000, healthCheckInterval: 1000, healthCheckModel: 'm' },
    ...(retry ? { retryOnFailure: { enabled: true, maxRetries: 1 } } : {}),
  },
});
const OK = { status: 200, body: '{"id":"x","choices":[{"message":{"content":"ok"}}]}' };
const SSE = ['data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n', 'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n', 'data: [DONE]\n\n'];

function streamTrip(vm: Vm): void {
  const s = vm.newStream();
  s.onRequestHeaders({ ...CHAT, authorization: 'Bearer client-key' }, false);
  s.onRequestBody('{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}', true);
  s.forward();
  s.onResponseHeaders({ ':status': '200', 'content-type': 'text/event-stream' }, false);
  SSE.forEach((chunk, i) => s.onResponseBody(chunk, i === SSE.length - 1));
  s.finish();
}

// A request that finds no budget waits in the queue; a second of virtual time later a tick sends it.
function queuedTrip(vm: Vm): void {
  const s = vm.newStream(vm.root, {}, { allowOnHeadersStopIteration: true });
  s.onRequestHeaders({ ...CHAT, authorization: 'Bearer client-key' }, false);
  s.onRequestBody('{"model":"m","messages":[]}', true);
  if (!s.continued.request && s.requestHeadersAction !== 0) vm.host.advance(1000);
  s.forward();
  s.onResponseHeaders({ ':status': '200', 'content-type': 'application/json' }, false);
  s.onResponseBody(OK.body, true);
  s.finish();
}

/** The scenarios: a plugin configuration and one request of the sequence. */
export interface Scenario { name: string; config: PluginConfig; send: (vm: Vm) => void }
export const SCENARIOS: Scenario[] = [
  { name: 'healthy, 8 keys', config: pluginConfig(), send: (vm) => roundTrip(vm, () => OK) },
  { name: 'healthy, 1000 keys', config: pluginConfig({ n: 1000 }), send: (vm) => roundTrip(vm, () => OK) },
  { name: 'healthy, 8 keys, retry off', config: pluginConfig({ retry: false }), send: (vm) => roundTrip(vm, () => OK) },
  { name: 'healthy, 8 keys, rpm budgets', config: pluginConfig({ rpm: 600_000_000 }), send: (vm) => roundTrip(vm, () => OK) },
  { name: 'healthy, 8 keys, rpm budgets, queue on (nothing waits)', config: pluginConfig({ rpm: 600_000_000, queue: true }), send: (vm) => roundTrip(vm, () => OK) },
  // One key of one request a second: every request waits once, about a second, then goes (the
  // module's time includes the root ticks that tried it meanwhile).
  { name: 'queued: each request waits about 1 s for its key', config: { queue: { enabled: true }, provider: { apiTokens: [{ token: 'sk-bench-q', rpm: 60, burst: 1 }] } }, send: queuedTrip },
  { name: '1 of 8 keys failing (503), retried', config: pluginConfig(), send: (vm) => roundTrip(vm, ({ token, call }) => (!call && token === 'sk-bench-8' ? { status: 503, body: '{"error":"busy"}' } : OK)) },
  { name: 'streaming, 8 keys', config: pluginConfig(), send: streamTrip },
];

export function vmFor(wasmPath: string, config: PluginConfig): Vm {
  const host = new Host({ wasmPath });
  const vm = host.createVm();
  vm.configure(config);
  return vm;
}

export function measure(vm: Vm, send: (vm: Vm) => void, requests: number): number {
  vm.busyNs = 0n;
  for (let i = 0; i < requests; i++) send(vm);
  return Number(vm.busyNs) / requests;
}

/**
 * ns per request of `a` and of `b` over `repetitions` rounds of `requests` each, A B then B A, so
 * neither side always runs first.
 */
export function interleaved(a: Vm, b: Vm, send: (vm: Vm) => void, requests: number, repetitions: number): [number[], number[]] {
  const x: number[] = [], y: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    if (r % 2) { y.push(measure(b, send, requests)); x.push(measure(a, send, requests)); }
    else { x.push(measure(a, send, requests)); y.push(measure(b, send, requests)); }
  }
  return [x, y];
}

/** Per scenario, ns per request of the plugin and of the empty filter, one value per repetition. */
export interface ModuleCostResult { name: string; plugin: number[]; empty: number[] }

export function moduleCost({ pluginWasm, emptyWasm, requests = 2000, repetitions = 15, warmup = 2000 }: { pluginWasm: string; emptyWasm: string; requests?: number; repetitions?: number; warmup?: number }): ModuleCostResult[] {
  const results: ModuleCostResult[] = [];
  for (const sc of SCENARIOS) {
    const plugin = vmFor(pluginWasm, sc.config);
    const empty = vmFor(emptyWasm, {});
    measure(plugin, sc.send, warmup);
    measure(empty, sc.send, warmup);
    const [p, e] = interleaved(plugin, empty, sc.send, requests, repetitions);
    results.push({ name: sc.name, plugin: p, empty: e });
  }
  return results;
}

/** Markdown for moduleCost(). */
export function moduleCostTable(results: ModuleCostResult[], requests: number, repetitions: number): string {
  const lines = [
    `| scenario | plugin ns/request | empty filter ns/request | plugin − empty (median) |`,
    `|---|---:|---:|---:|`,
  ];
  for (const r of results) {
    lines.push(`| ${r.name} | ${spread(r.plugin, 0)} | ${spread(r.empty, 0)} | ${(median(r.plugin) - median(r.empty)).toFixed(0)} |`);
  }
  lines.push('', `| difference | median | 95% interval | |`, `|---|---:|---|---|`);
  for (const r of results) lines.push(diffLine(`${r.name}: plugin − empty`, r.plugin, r.empty, 'ns', 0));
  lines.push('', `(median and min–max over ${repetitions} interleaved repetitions of ${requests} requests each)`);
  return lines.join('\n');
}
