// The upstream placement as Istio and Envoy Gateway users install it: the Envoy configuration each
// recipe produces (tests/e2e/control_planes.ts applies the recipe's own patches to the gateway each
// control plane generates) passes `envoy --mode validate`, and runs in Envoy with two workers in
// front of the TLS mock provider: streams are retried by Envoy, each attempt with a key of its own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startMockProvider } from '../../envoy/mock_provider.js';
import type { PluginConfig } from '../../envoy/config.js';
import { envoyGatewayUpstream, istioUpstream, wasmConfigsIn, type Produced } from './control_planes.js';
import { WASM, chat, freePort, gatewayHandle, isProbe, setTokens, startEnvoy, tempDir, validateConfig, TRAP, type Gateway } from './harness.js';
import { CLIENT_PATH, PROVIDER_HOST, makeCertificate } from './provider_gateway.js';

const TOKENS = ['sk-cp-a', 'sk-cp-b', 'sk-cp-c', 'sk-cp-d'];
const STATUS_TOKEN = 'cp-status-token';
const STREAM = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] };

/**
 * Runs `produce`'s configuration against the TLS mock: only ports, the provider's address, the CA,
 * the module's path, the keys and the status token replaced. Validates it first.
 */
async function withProduced(produce: (serve: (name: string) => unknown) => Produced, fn: (gw: Gateway) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const tls = makeCertificate(dir);
  const mock = await startMockProvider(0, '127.0.0.1', { tls, provider: { host: PROVIDER_HOST, pathPrefix: '/v1/' } });
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const ecdsFile = (name: string) => path.join(dir, `${name}.ecds.json`);
  const { config, providerCluster, ecds } = produce((name) => ({ path_config_source: { path: ecdsFile(name) }, resource_api_version: 'V3' }));
  config.admin.address.socket_address.port_value = adminPort;
  config.static_resources.listeners[0].address.socket_address.port_value = listenPort;
  const auth = config.static_resources.listeners[0];
  const chain = auth.filter_chains?.[0] ?? auth.default_filter_chain;
  chain.filters[0].typed_config.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.api_key_auth').typed_config.credentials = [{ key: 'client-key', client: 'tests' }];
  providerCluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address = { address: '127.0.0.1', port_value: mock.port };
  providerCluster.transport_socket.typed_config.common_tls_context.validation_context.trusted_ca.filename = tls.certFile;
  let plugin: PluginConfig = {};
  for (const wasm of [...wasmConfigsIn(config), ...wasmConfigsIn(ecds)]) {
    wasm.vm_config.code = { local: { filename: WASM } };
    const cfg = JSON.parse(wasm.configuration.value);
    cfg.provider.apiTokens = TOKENS;
    if (cfg.statusToken) cfg.statusToken = STATUS_TOKEN;
    else plugin = cfg;
    wasm.configuration.value = JSON.stringify(cfg);
  }
  // Probes go to the cluster the recipe names: the one the control plane generates.
  assert.equal((plugin.provider as { failover: { healthCheck: { cluster: string } } }).failover.healthCheck.cluster, providerCluster.name);
  for (const r of ecds) fs.writeFileSync(ecdsFile(r.name), JSON.stringify({ resources: [r] }));
  const file = path.join(dir, 'envoy.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const validated = validateConfig(file);
  assert.ok(validated.ok, validated.output);
  const envoy = await startEnvoy({ configFile: file, adminPort, concurrency: 2 }).catch(async (e) => { await mock.close(); throw e; });
  const gw = gatewayHandle({ mock, envoy, listenPort, adminPort, pluginConfig: plugin, clientPath: CLIENT_PATH, tempDirs: [dir] });
  try {
    await fn(gw);
    assert.doesNotMatch(envoy.log, TRAP);
  } finally {
    await gw.stop();
  }
}

/** One dead key of four, 20 streams 4 at a time: every stream complete, no request's attempts repeat a key; the status instance answers. */
async function streamsThroughEnvoyRetries(gw: Gateway): Promise<void> {
  setTokens(gw, { 'sk-cp-b': '401' });
  for (let i = 0; i < 20; i += 4) {
    const answers = await Promise.all(Array.from({ length: 4 }, (_, k) => chat(gw, { body: STREAM, headers: { 'x-test-id': `cp-${i + k}` } })));
    for (const a of answers) {
      assert.equal(a.status, 200, a.body);
      assert.match(String(a.headers['content-type']), /text\/event-stream/);
      assert.ok(a.body.endsWith('data: [DONE]\n\n'), a.body.slice(-80));
    }
  }
  const sent = gw.mock.requests.filter((q) => !isProbe(q));
  for (let i = 0; i < 20; i++) {
    const keys = sent.filter((q) => q.headers['x-test-id'] === `cp-${i}`).map((q) => q.token);
    assert.equal(new Set(keys).size, keys.length, `request ${i} repeated a key: ${keys.join(' ')}`);
    assert.ok(keys.every((k) => TOKENS.includes(k ?? '')));
  }
  assert.ok(sent.some((q) => q.token === 'sk-cp-b'), 'the dead key was never met');
  for (const q of sent) assert.equal(q.host, PROVIDER_HOST);
  const status = await chat(gw, { method: 'GET', path: '/ai-token-failover/status', token: STATUS_TOKEN });
  assert.equal(status.status, 200);
  assert.match(status.body, /"tokens"/);
}

test('Istio: deploy/istio/upstream.yaml applied to the ingress gateway Istio generates validates, and Envoy retries streams with a fresh key each attempt', () =>
  withProduced(istioUpstream, streamsThroughEnvoyRetries));

test('Envoy Gateway: deploy/envoy-gateway/upstream.yaml\'s EnvoyPatchPolicy applied to the proxy Envoy Gateway generates validates, and Envoy retries streams with a fresh key each attempt', () =>
  withProduced(envoyGatewayUpstream, streamsThroughEnvoyRetries));
