// Where the module's time goes on a successful request: time inside each callback (the emulator's
// host functions included) per request, for the downstream plugin with retry on and for the
// upstream placement, beside the empty filter. The emulator's host functions are JavaScript, so
// the figures rank the callbacks; Envoy's own cost per host call is in the Envoy figures.
import { Host, type Vm } from '../tests/host/emulator.js';
import { roundTrip } from '../tests/host/gateway.js';
import type { PluginConfig } from '../envoy/config.js';
import { median } from './stats.js';

const keys = Array.from({ length: 8 }, (_, i) => `sk-bench-${i + 1}`);
const HC = { cluster: 'llm', authority: 'api.example.com', path: '/v1/chat/completions' };
const CONFIGS: Array<[string, PluginConfig]> = [
  ['downstream, retry on', { provider: { apiTokens: keys, failover: { enabled: true, healthCheckModel: 'm' }, retryOnFailure: { enabled: true } } }],
  ['upstream placement', { upstreamFilter: true, provider: { apiTokens: keys, failover: { enabled: true, healthCheckModel: 'm', healthCheck: HC } } }],
];
const OK = { status: 200, body: '{"id":"x","choices":[{"message":{"content":"ok"}}]}' };

/**
 * ns per request inside each callback, over `requests` requests (median of `repetitions`), and
 * under `host functions` the part of it spent in the emulator's host functions.
 */
function perCallback(wasmPath: string | undefined, config: PluginConfig, requests: number, repetitions: number): Map<string, number> {
  const host = new Host(wasmPath ? { wasmPath } : {});
  const vm: Vm = host.createVm();
  vm.configure(config);
  const samples = new Map<string, number[]>();
  const original = vm.callback.bind(vm);
  let spent = new Map<string, bigint>();
  vm.callback = (name: string, ...args: number[]) => {
    // A callback the module does not export is skipped by the host: nothing to count.
    if (vm.exports[name] === undefined) return original(name, ...args);
    const start = process.hrtime.bigint();
    try { return original(name, ...args); } finally { spent.set(name, (spent.get(name) ?? 0n) + process.hrtime.bigint() - start); }
  };
  for (let i = 0; i < requests; i++) roundTrip(vm, () => OK);
  for (let r = 0; r < repetitions; r++) {
    spent = new Map();
    host.hostNs = new Map();
    for (let i = 0; i < requests; i++) roundTrip(vm, () => OK);
    for (const [name, ns] of spent) samples.set(name, [...(samples.get(name) ?? []), Number(ns) / requests]);
    const inHost = [...host.hostNs.values()].reduce((a, b) => a + b, 0n);
    samples.set('(of which host functions)', [...(samples.get('(of which host functions)') ?? []), Number(inHost) / requests]);
  }
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

export function callbackCostTable(pluginWasm: string, emptyWasm: string, requests = 2000, repetitions = 9): string {
  const empty = perCallback(emptyWasm, {}, requests, repetitions);
  const columns = CONFIGS.map(([name, cfg]) => [name, perCallback(pluginWasm, cfg, requests, repetitions)] as const);
  const names = [...new Set([...empty.keys(), ...columns.flatMap(([, m]) => [...m.keys()])])].filter((n) => n !== 'proxy_on_memory_allocate');
  const lines = [`| callback | empty filter | ${columns.map(([n]) => n).join(' | ')} |`, `|---|---:|${columns.map(() => '---:').join('|')}|`];
  const total = (m: Map<string, number>) => names.filter((n) => !n.startsWith('(')).reduce((s, n) => s + (m.get(n) ?? 0), 0);
  for (const n of names) lines.push(`| ${n} | ${(empty.get(n) ?? 0).toFixed(0)} | ${columns.map(([, m]) => (m.get(n) ?? 0).toFixed(0)).join(' | ')} |`);
  lines.push(`| all | ${total(empty).toFixed(0)} | ${columns.map(([, m]) => total(m).toFixed(0)).join(' | ')} |`);
  return `\n### Where a successful request's module time goes (emulator, ns per request, median of ${repetitions} × ${requests})\n\n${lines.join('\n')}\n`;
}
