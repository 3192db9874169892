// `npm run bench`: Envoy without a Wasm filter, with a do-nothing Wasm filter, and with the plugin
// (failover and retry on, 8 healthy tokens), in turn over several rounds, each loaded by autocannon
// on 127.0.0.1 for a bounded time; then the same with one of the 8 tokens answering 401. Prints
// requests/s and latency per setup, the ratios (median over rounds), the module size, and the host
// calls per request counted in the emulator.
//   BENCH_ROUNDS (3)  BENCH_SECONDS (5)  BENCH_CONNECTIONS (32)
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bootstrap, listener, wasmFilter } from '../envoy/config.js';
import { ROOT } from '../scripts/envoy_bin.js';
import { freePort, sleep, startEnvoy } from '../tests/e2e/harness.js';
import { countHostCalls } from './host_calls.js';
import { promptCostTable } from './prompt_cost.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PLUGIN = path.join(ROOT, 'build/plugin.wasm');
const EMPTY = path.join(ROOT, 'build/empty_filter.wasm');
const TOKENS = Array.from({ length: 8 }, (_, i) => `sk-bench-${i + 1}`);
const DEAD = 'sk-bench-8';
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const ANSWER = JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }] });
const PLUGIN_CONFIG = {
  provider: {
    apiTokens: TOKENS,
    failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
    retryOnFailure: { enabled: true, maxRetries: 1, retryOnStatus: ['401', '403', '429', '5..'] },
  },
};

function buildEmptyFilter() {
  execFileSync('npx', ['--no-install', 'asc', 'bench/empty_filter.ts', '--runtime', 'incremental', '--exportStart', '_initialize',
    '--use', 'abort=assembly/abi/abort/abortHandler', '-O3', '--shrinkLevel', '1', '--noAssert', '-o', EMPTY], { cwd: ROOT, stdio: 'inherit' });
}

/** A fast keep-alive provider: Envoy answering from its routes; the dead token gets 401. */
async function startUpstream() {
  const port = await freePort();
  const adminPort = await freePort();
  const ok = { status: 200, body: { inline_string: ANSWER } };
  const config = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    static_resources: {
      listeners: [{
        name: 'upstream',
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        filter_chains: [{ filters: [{
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'upstream',
            route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [
              { match: { prefix: '/', headers: [{ name: 'authorization', string_match: { exact: `Bearer ${DEAD}` } }] }, direct_response: { status: 401, body: { inline_string: '{"error":"invalid key"}' } } },
              { match: { prefix: '/' }, direct_response: ok },
            ] }] },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          },
        }] }],
      }],
    },
  };
  const envoy = await startEnvoy({ config, adminPort, concurrency: 1 });
  return { port, envoy };
}

async function runSetup(name, filters, upstreamPort) {
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const config = bootstrap({ listenPort, adminPort, upstreamPort, listeners: [listener({ port: listenPort, filters })] });
  const envoy = await startEnvoy({ config, adminPort, concurrency: 2 });
  try {
    const url = `http://127.0.0.1:${listenPort}/v1/chat/completions`;
    const opts = { url, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer client-key' }, body: BODY, connections: CONNECTIONS };
    await autocannon({ ...opts, duration: 1 }); // warm-up, discarded
    const cpuBefore = cpuMs(envoy.proc.pid);
    const r = await autocannon({ ...opts, duration: SECONDS });
    const cpuUs = ((cpuMs(envoy.proc.pid) - cpuBefore) * 1000) / Math.max(1, r.requests.total);
    const non2xx = r.non2xx + r.errors + r.timeouts;
    return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuUs, non2xx, total: r.requests.total };
  } finally {
    await envoy.stop();
  }
}

const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function scenario(title, upstreamPort) {
  const setups = [
    ['no Wasm filter', []],
    ['empty Wasm filter', [wasmFilter({ wasmPath: EMPTY, pluginConfig: '{}', vmId: 'empty' })]],
    ['ai-token-failover', [wasmFilter({ wasmPath: PLUGIN, pluginConfig: PLUGIN_CONFIG })]],
  ];
  const results = Object.fromEntries(setups.map(([n]) => [n, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    // A B C, then C B A: alternate the order so drift over time does not favour one setup.
    const order = round % 2 ? setups : [...setups].reverse();
    for (const [name, filters] of order) {
      const r = await runSetup(name, filters, upstreamPort);
      results[name].push(r);
      console.error(`  round ${round} ${name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, Envoy CPU ${r.cpuUs.toFixed(1)} µs/request, non-2xx/errors ${r.non2xx}`);
      await sleep(500);
    }
  }
  console.log(`\n### ${title}\n`);
  console.log(`| setup | requests/s | p50 ms | p99 ms | Envoy CPU µs/request | non-2xx or errors |`);
  console.log(`|---|---:|---:|---:|---:|---:|`);
  const med = {};
  const cpu = {};
  for (const [name] of setups) {
    const rs = results[name];
    med[name] = median(rs.map((r) => r.rps));
    cpu[name] = median(rs.map((r) => r.cpuUs));
    console.log(`| ${name} | ${med[name].toFixed(0)} | ${median(rs.map((r) => r.p50))} | ${median(rs.map((r) => r.p99))} | ${cpu[name].toFixed(1)} | ${rs.reduce((n, r) => n + r.non2xx, 0)} of ${rs.reduce((n, r) => n + r.total, 0)} |`);
  }
  const plugin = med['ai-token-failover'];
  console.log(`\nthroughput  plugin / no filter: ${(plugin / med['no Wasm filter']).toFixed(3)}   plugin / empty filter: ${(plugin / med['empty Wasm filter']).toFixed(3)}`);
  console.log(`CPU/request plugin − empty filter: ${(cpu['ai-token-failover'] - cpu['empty Wasm filter']).toFixed(1)} µs   plugin − no filter: ${(cpu['ai-token-failover'] - cpu['no Wasm filter']).toFixed(1)} µs`);
  console.log(`(medians of ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections, Envoy --concurrency 2)`);
}

buildEmptyFilter();
const upstream = await startUpstream();
try {
  console.log(`## ai-token-failover benchmark\n`);
  console.log(`build/plugin.wasm: ${fs.statSync(PLUGIN).size} bytes (${(fs.statSync(PLUGIN).size / 1024).toFixed(1)} KiB)`);
  await scenario('All 8 tokens healthy', upstream.port);
  await scenario(`One of 8 tokens answering 401 (${DEAD}): it is retried, ejected and probed`, upstream.port);
  console.log(countHostCalls());
  console.log('\n### Cost per retried request by prompt size (emulator, time inside the module)\n');
  console.log(promptCostTable());
} finally {
  await upstream.envoy.stop();
}
