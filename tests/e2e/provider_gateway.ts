// The provider-shaped tier: envoy/envoy.provider.yaml as shipped (TLS cluster with SNI, host and
// prefix rewrite, a route-added header), with only ports, the provider's address, the CA and the
// plugin configuration replaced, in front of the mock provider serving TLS for api.openai.com
// with a certificate made for the test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from '../../scripts/envoy_bin.js';
import { startMockProvider } from '../../envoy/mock_provider.js';
import type { EnvoyConfig, PluginConfig } from '../../envoy/config.js';
import { TRAP, WASM, freePort, gatewayHandle, startEnvoy, tempDir, type EnvoyProcess, type Gateway } from './harness.js';

export const PROVIDER_HOST = 'api.openai.com';
export const CLIENT_PATH = '/openai/v1/chat/completions';
export const PROVIDER_PATH = '/v1/chat/completions';
export const ROUTE_HEADER = ['x-gateway', 'ai-token-failover'];
/** The client key the shipped config's api_key_auth filter is given in the tests (harness chat() sends it). */
const CLIENT_KEY = 'client-key';

/** The parts of the shipped Wasm filter's config a test replaces. */
interface WasmFilterConfig { vm_config: { code: { local: { filename: string } } }; configuration: { value: string }; allow_on_headers_stop_iteration?: boolean }

/** A self-signed certificate for the provider's name, made with openssl; returns { cert, key, certFile }. */
export function makeCertificate(dir: string): { cert: Buffer; key: Buffer; certFile: string } {
  const certFile = path.join(dir, 'provider.crt');
  const keyFile = path.join(dir, 'provider.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${PROVIDER_HOST}`,
    '-addext', `subjectAltName=DNS:${PROVIDER_HOST}`, '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), certFile };
}

/** A parsed shipped file's part: its shape is what the test changes, so it stays untyped. */
type Parsed = any;
/** What a shipped provider-shaped file gives a test to change: its listener's HTTP filters, the route config, the cluster. */
interface ShippedParts { httpFilters: EnvoyConfig[]; routeConfig: Parsed; cluster: Parsed }

/** The Wasm filter's config among `filters` (the first one). */
function wasmConfig(filters: EnvoyConfig[]): WasmFilterConfig {
  return (filters.find((f) => f.name === 'envoy.filters.http.wasm') as { typed_config: { config: WasmFilterConfig } }).typed_config.config;
}

/**
 * Starts the TLS mock and Envoy with the shipped file `file`: ports, the provider's address, the
 * CA and the client key replaced, then what `adapt` changes; `filtersBefore` go ahead of the
 * listener's Wasm filter (a test's stand-in for ai-proxy, after authentication).
 */
async function startShipped(file: string, pluginConfig: PluginConfig, concurrency: number, filtersBefore: EnvoyConfig[],
                            adapt: (parts: ShippedParts) => void): Promise<Gateway> {
  const dir = tempDir();
  const tls = makeCertificate(dir);
  const mock = await startMockProvider(0, '127.0.0.1', { tls, provider: { host: PROVIDER_HOST, pathPrefix: '/v1/' } });
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const config = YAML.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  config.admin.address.socket_address.port_value = adminPort;
  const listener = config.static_resources.listeners[0];
  listener.address.socket_address.port_value = listenPort;
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  const httpFilters: EnvoyConfig[] = hcm.http_filters;
  // Clients authenticate with the harness's client key.
  const auth = httpFilters.find((f) => f.name === 'envoy.filters.http.api_key_auth') as { typed_config: { credentials: unknown[] } };
  auth.typed_config.credentials = [{ key: CLIENT_KEY, client: 'tests' }];
  const cluster = config.static_resources.clusters[0];
  adapt({ httpFilters, routeConfig: hcm.route_config, cluster });
  httpFilters.splice(httpFilters.findIndex((f) => f.name === 'envoy.filters.http.wasm'), 0, ...filtersBefore);
  cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address = { address: '127.0.0.1', port_value: mock.port };
  cluster.transport_socket.typed_config.common_tls_context.validation_context.trusted_ca.filename = tls.certFile;
  let envoy: EnvoyProcess;
  try {
    // Envoy flushes access logs (the shipped one writes to stdout) every 10 s by default.
    envoy = await startEnvoy({ config, adminPort, concurrency, extraArgs: ['--file-flush-interval-msec', '100'] });
  } catch (e) {
    await mock.close();
    throw e;
  }
  return gatewayHandle({ mock, envoy, listenPort, adminPort, pluginConfig, clientPath: CLIENT_PATH, tempDirs: [dir] });
}

/**
 * Starts the TLS mock and Envoy with the shipped provider config; same interface as startGateway.
 * `filtersBefore` go ahead of the plugin (a test's stand-in for ai-proxy).
 */
export async function startProviderGateway(pluginConfig: PluginConfig, { concurrency = 2, filtersBefore = [], allowOnHeadersStopIteration = true, routes }:
  { concurrency?: number; filtersBefore?: EnvoyConfig[]; allowOnHeadersStopIteration?: boolean; routes?: (routes: Parsed[]) => void } = {}): Promise<Gateway> {
  return startShipped('envoy/envoy.provider.yaml', pluginConfig, concurrency, filtersBefore, ({ httpFilters, routeConfig }) => {
    routes?.(routeConfig.virtual_hosts[0].routes);
    const wasm = wasmConfig(httpFilters);
    wasm.vm_config.code.local.filename = WASM;
    wasm.configuration.value = JSON.stringify(pluginConfig);
    wasm.allow_on_headers_stop_iteration = allowOnHeadersStopIteration;
  });
}

/**
 * Runs `fn` with a gateway of envoy/envoy.provider.yaml started from `pluginConfig`; then Envoy's
 * log shows no trap. Stops it whatever happens.
 */
export async function withProviderGateway(pluginConfig: PluginConfig, fn: (gw: Gateway) => Promise<void>): Promise<void> {
  const gw = await startProviderGateway(pluginConfig);
  try {
    await fn(gw);
    assert.doesNotMatch(gw.envoy.log, TRAP);
  } finally {
    await gw.stop();
  }
}

/** The status instance's path and token in envoy.upstream.yaml (the test replaces the token). */
export const UPSTREAM_STATUS = { path: '/ai-token-failover/status', token: 'status-token' };

/**
 * Starts the TLS mock and Envoy with the shipped upstream-placement config (envoy/envoy.upstream.yaml):
 * `pluginConfig` (its provider block and options) becomes the upstream filter's configuration, and
 * the same provider block with the status path the downstream status instance's. `filtersBefore`
 * go ahead of the status instance; `retries` replaces the route's num_retries.
 */
export async function startUpstreamGateway(pluginConfig: PluginConfig, { concurrency = 2, filtersBefore = [], retries }: { concurrency?: number; filtersBefore?: EnvoyConfig[]; retries?: number } = {}): Promise<Gateway> {
  return startShipped('envoy/envoy.upstream.yaml', pluginConfig, concurrency, filtersBefore, ({ httpFilters, routeConfig, cluster }) => {
    const status = wasmConfig(httpFilters);
    status.vm_config.code.local.filename = WASM;
    status.configuration.value = JSON.stringify({ statusOnly: true, statusPath: UPSTREAM_STATUS.path, statusToken: UPSTREAM_STATUS.token, provider: pluginConfig.provider });
    if (retries !== undefined) routeConfig.virtual_hosts[0].routes[1].route.retry_policy.num_retries = retries;
    const options = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    const upstream = wasmConfig(options.http_filters);
    upstream.vm_config.code.local.filename = WASM;
    upstream.configuration.value = JSON.stringify({ upstreamFilter: true, ...pluginConfig });
  });
}
