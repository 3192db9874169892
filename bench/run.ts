// `npm run bench`: the plugin's cost, measured two ways.
// 1. Module only: the plugin and an empty filter built by the same toolchain run the same request
//    sequences in the Node host emulator, interleaved (bench/module_cost.ts).
// 2. In Envoy: the Envoy under test runs with --concurrency 1 pinned to core 0; this process (the
//    autocannon load generator) and the upstream Envoy are pinned to core 1. Each setup runs in a
//    fresh Envoy, ROUNDS times, interleaved (A B C…, then …C B A), after a warm-up; per setup the
//    median and min–max of requests/s and Envoy CPU µs per request, and for each difference a
//    bootstrap 95% interval.
// 3. In Envoy, by profile: the Wasm-attributable CPU per request (bench/profile.ts), where perf runs.
// Then host calls per request and the cost per retried request by prompt size.
//   BENCH_QUICK=1 (2 rounds × 1 s, fewer module repetitions)   BENCH_ROUNDS (7)  BENCH_SECONDS (4)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { wasmFilter } from '../envoy/config.js';
import { ENVOY, sleep } from '../tests/e2e/harness.js';
import { CONNECTIONS, EMPTY, PLUGIN, buildEmptyFilter, pluginConfig, setupEnvoy, startUpstream, upstreamConfig, type Setup } from './bench_envoy.js';
import { profileTable } from './profile.js';
import { countHostCalls } from './host_calls.js';
import { moduleCost, moduleCostTable } from './module_cost.js';
import { promptCostTable } from './prompt_cost.js';
import { callbackCostTable } from './callback_cost.js';
import { CALLS_PER_REQUEST, CALL_KINDS, buildCallFilters, hostCallCostTable } from './host_call_cost.js';
import { diffLine, median, spread } from './stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 2 : 7));
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 4));
const MODULE = QUICK ? { requests: 500, repetitions: 5, warmup: 500 } : { requests: 2000, repetitions: 15, warmup: 2000 };
/** One round of one setup. */
interface Sample { rps: number; cpuUs: number; non2xx: number; total: number }

const SETUPS: Setup[] = [
  { name: 'no Wasm filter', filters: [] },
  { name: 'empty Wasm filter', filters: [wasmFilter({ wasmPath: EMPTY, pluginConfig: '{}', vmId: 'empty' })] },
  { name: 'plugin, 8 keys', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig() })] },
  { name: 'plugin, 1000 keys', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig({ n: 1000 }) })] },
  { name: 'plugin, 8 keys, retry off', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig({ retry: false }) })] },
  // Budgets large enough never to refuse: what leasing and spending them costs.
  { name: 'plugin, 8 keys, rpm budgets', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig({ rpm: 6_000_000 }) })] },
  // The queue on, with budgets that never run out: nothing waits, so this is what the queue costs a request that does not wait.
  { name: 'plugin, 8 keys, rpm budgets, queue on', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig({ rpm: 6_000_000, queue: true }) })] },
  // The upstream placement: the filter runs once per router attempt, Envoy's retry_policy retries.
  { name: 'empty Wasm filter, upstream', filters: [], upstream: [wasmFilter({ wasmPath: EMPTY, pluginConfig: '{}', vmId: 'empty' })] },
  { name: 'plugin upstream, 8 keys', filters: [], upstream: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: upstreamConfig() })] },
  // The failing key stays in the pool (threshold never reached), so 1 request in 8 is retried throughout.
  { name: 'plugin, 8 keys, 1 failing (retried)', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig({ threshold: 1_000_000 }) })] },
];
// What one host call costs in Envoy: the empty filter making 20 calls of one kind per request.
const CALL_FILTERS = buildCallFilters();
const callSetup = (kind: number): string => `empty filter + ${CALLS_PER_REQUEST} × ${CALL_KINDS.find(([k]) => k === kind)![1]}`;
for (const [kind] of CALL_KINDS) SETUPS.push({ name: callSetup(kind), filters: [wasmFilter({ wasmPath: CALL_FILTERS.get(kind)!, pluginConfig: '{}', vmId: `calls-${kind}` })] });
const DIFFERENCES = [
  ['empty filter − no filter', 'empty Wasm filter', 'no Wasm filter'],
  ['plugin (8 keys) − empty filter', 'plugin, 8 keys', 'empty Wasm filter'],
  ['1000 keys − 8 keys', 'plugin, 1000 keys', 'plugin, 8 keys'],
  ['retry on − retry off', 'plugin, 8 keys', 'plugin, 8 keys, retry off'],
  ['rpm budgets − none', 'plugin, 8 keys, rpm budgets', 'plugin, 8 keys'],
  ['queue on (nothing waits) − off', 'plugin, 8 keys, rpm budgets, queue on', 'plugin, 8 keys, rpm budgets'],
  ['1 key failing − all healthy', 'plugin, 8 keys, 1 failing (retried)', 'plugin, 8 keys'],
  ['plugin upstream − empty filter', 'plugin upstream, 8 keys', 'empty Wasm filter'],
  ['plugin upstream − empty filter upstream', 'plugin upstream, 8 keys', 'empty Wasm filter, upstream'],
  ['plugin upstream − plugin (retry on)', 'plugin upstream, 8 keys', 'plugin, 8 keys'],
];

const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMs(pid: number | undefined): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

async function runSetup(setup: Setup, upstreamPort: number): Promise<Sample> {
  const { envoy, load } = await setupEnvoy(setup, upstreamPort);
  try {
    await load(1); // warm-up, discarded
    const cpuBefore = cpuMs(envoy.proc.pid);
    const r = await load(SECONDS);
    const cpuUs = ((cpuMs(envoy.proc.pid) - cpuBefore) * 1000) / Math.max(1, r.requests.total);
    return { rps: r.requests.total / SECONDS, cpuUs, non2xx: r.non2xx + r.errors + r.timeouts, total: r.requests.total };
  } finally {
    await envoy.stop();
  }
}

async function envoyBench(): Promise<string> {
  const upstream = await startUpstream();
  const results: Record<string, Sample[]> = Object.fromEntries(SETUPS.map((s) => [s.name, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? SETUPS : [...SETUPS].reverse();
      for (const setup of order) {
        const r = await runSetup(setup, upstream.port);
        results[setup.name].push(r);
        console.error(`  round ${round} ${setup.name}: ${r.rps.toFixed(0)} req/s, Envoy CPU ${r.cpuUs.toFixed(1)} µs/request, non-2xx/errors ${r.non2xx}`);
        await sleep(200);
      }
    }
  } finally {
    await upstream.envoy.stop();
  }
  const out = [
    `| setup | requests/s median (min–max) | ÷ empty filter | Envoy CPU µs/request median (min–max) | non-2xx or errors |`,
    `|---|---:|---:|---:|---:|`,
  ];
  const emptyRps = median(results['empty Wasm filter'].map((r) => r.rps));
  for (const s of SETUPS) {
    const rs = results[s.name];
    const rps = rs.map((r) => r.rps);
    out.push(`| ${s.name} | ${spread(rps, 0)} | ${(median(rps) / emptyRps).toFixed(3)} | ${spread(rs.map((r) => r.cpuUs))} | ${rs.reduce((n, r) => n + r.non2xx, 0)} of ${rs.reduce((n, r) => n + r.total, 0)} |`);
  }
  const cpu = (name: string): number[] => results[name].map((r) => r.cpuUs);
  const rps = (name: string): number[] => results[name].map((r) => r.rps);
  out.push('', '| difference: Envoy CPU per request | median | 95% interval | |', '|---|---:|---|---|');
  for (const [label, a, b] of DIFFERENCES) out.push(diffLine(label, cpu(a), cpu(b), 'µs'));
  out.push('', '| difference: requests/s | median | 95% interval | |', '|---|---:|---|---|');
  for (const [label, a, b] of DIFFERENCES) out.push(diffLine(label, rps(a), rps(b), 'req/s', 0));
  out.push('', `(${ROUNDS} interleaved rounds × ${SECONDS} s per setup after a 1 s warm-up, ${CONNECTIONS} connections; Envoy under test --concurrency 1 on core 0, load generator and upstream on core 1)`);
  out.push('', '### What one host call costs in Envoy', '', hostCallCostTable(cpu, callSetup, 'empty Wasm filter'));
  return out.join('\n');
}

function machine(): string {
  const envoyVersion = execFileSync(ENVOY, ['--version'], { encoding: 'utf8' }).match(/\/(\d+\.\d+\.\d+)\//)?.[1] ?? 'unknown';
  return `${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Envoy ${envoyVersion}`;
}

buildEmptyFilter();
// This process is the load generator: pin it (all its threads) to core 1.
execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
const started = Date.now();
console.log(`## ai-token-failover benchmark${QUICK ? ' (BENCH_QUICK: too short to quote)' : ''}\n`);
console.log(`machine: ${machine()}`);
console.log(`build/plugin.wasm: ${fs.statSync(PLUGIN).size} bytes\n`);
console.log('### Module only (emulator, time inside each module per request)\n');
console.log(moduleCostTable(moduleCost({ pluginWasm: PLUGIN, emptyWasm: EMPTY, ...MODULE }), MODULE.requests, MODULE.repetitions));
console.log('\n### In Envoy\n');
console.log(await envoyBench());
console.log('\n### Wasm-attributable CPU in Envoy, by profile (bench/profile.ts)\n');
console.log(await profileTable());
console.log(countHostCalls());
console.log(callbackCostTable(PLUGIN, EMPTY));
console.log('### Cost per retried request by prompt size (emulator, time inside the module)\n');
console.log(promptCostTable());
console.log(`\n(full run: ${((Date.now() - started) / 60000).toFixed(1)} min)`);
