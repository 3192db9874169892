// What the Envoy benchmarks share: the modules under test, the plugin configurations, a fast
// upstream on core 1, and one setup's Envoy on core 0 with a load to run against it.
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { bootstrap, listener, withUpstreamFilters, type EnvoyConfig, type PluginConfig } from '../envoy/config.js';
import { freePort, startEnvoy, type EnvoyProcess } from '../tests/e2e/harness.js';
import { ROOT } from '../scripts/envoy_bin.js';

export const PLUGIN = path.join(ROOT, 'build/plugin.wasm');
export const EMPTY = path.join(ROOT, 'build/empty_filter.wasm');
export const CONNECTIONS = 16;
export const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `sk-bench-${i + 1}`);
/** The upstream answers 503 to this key. */
const FAILING = 'sk-bench-8';
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const ANSWER = JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }] });

export const pluginConfig = ({ n = 8, retry = true, threshold = 3, rpm = 0, queue = false } = {}): PluginConfig => ({
  ...(queue ? { queue: { enabled: true } } : {}),
  provider: {
    apiTokens: rpm > 0 ? keys(n).map((token) => ({ token, rpm })) : keys(n),
    failover: { enabled: true, failureThreshold: threshold, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
    ...(retry ? { retryOnFailure: { enabled: true, maxRetries: 1 } } : {}),
  },
});

/** `upstream`: filters of the cluster (the upstream placement) rather than of the listener. */
export const upstreamConfig = (): PluginConfig => ({
  upstreamFilter: true,
  provider: { apiTokens: keys(8), failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini',
    healthCheck: { cluster: 'llm', authority: 'llm', path: '/v1/chat/completions' } } },
});

/** A setup: the listener's filters, or (`upstream`) the cluster's. */
export interface Setup { name: string; filters: EnvoyConfig[]; upstream?: EnvoyConfig[] }

export function buildEmptyFilter(): void {
  execFileSync('npx', ['--no-install', 'asc', 'bench/empty_filter.ts', '--runtime', 'minimal', '--exportStart', '_initialize',
    '--use', 'abort=assembly/runtime/abort/abortHandler', '-O3', '--shrinkLevel', '1', '--noAssert', '-o', EMPTY], { cwd: ROOT, stdio: 'inherit' });
}

/** A fast keep-alive provider on core 1: Envoy answering from its routes; the failing key gets 503. */
export async function startUpstream(): Promise<{ port: number; envoy: EnvoyProcess }> {
  const port = await freePort();
  const adminPort = await freePort();
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
              { match: { prefix: '/', headers: [{ name: 'authorization', string_match: { exact: `Bearer ${FAILING}` } }] }, direct_response: { status: 503, body: { inline_string: '{"error":"overloaded"}' } } },
              { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: ANSWER } } },
            ] }] },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          },
        }] }],
      }],
    },
  };
  const envoy = await startEnvoy({ config, adminPort, concurrency: 1, cpu: 1 });
  return { port, envoy };
}

/** The Envoy under test for `setup` (--concurrency 1 on core 0), and a load to run against it. */
export async function setupEnvoy(setup: Setup, upstreamPort: number): Promise<{ envoy: EnvoyProcess; load: (seconds: number) => Promise<autocannon.Result> }> {
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const config = bootstrap({ listenPort, adminPort, upstreamPort, filters: setup.filters, listeners: [listener({ port: listenPort, filters: setup.filters })] });
  if (setup.upstream) {
    const resources = config.static_resources as { clusters: EnvoyConfig[] };
    resources.clusters = resources.clusters.map((c) => withUpstreamFilters(c, setup.upstream!));
  }
  const envoy = await startEnvoy({ config, adminPort, concurrency: 1, cpu: 0 });
  const url = `http://127.0.0.1:${listenPort}/v1/chat/completions`;
  const opts = { url, method: 'POST' as const, headers: { 'content-type': 'application/json', authorization: 'Bearer client-key' }, body: BODY, connections: CONNECTIONS };
  return { envoy, load: (seconds: number) => autocannon({ ...opts, duration: seconds }) };
}
