// Keys from the environment in Envoy: the Wasm filter's vm_config.environment_variables gives the
// VM one variable from Envoy's own environment (host_env_keys) and one literal (key_values); the
// plugin's apiTokens name them with `env`, and requests go out with those keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wasmFilter, type EnvoyConfig } from '../../envoy/config.js';
import { WASM, chat, startGateway } from './harness.js';

test('apiTokens[].env: keys read from host_env_keys and key_values reach the provider; the file holds no key', async () => {
  process.env.AITF_E2E_KEY_A = 'sk-env-from-envoy-process';
  const pluginFilter = (cfg: Parameters<typeof wasmFilter>[0]['pluginConfig']): EnvoyConfig => {
    const filter = wasmFilter({ wasmPath: WASM, pluginConfig: cfg }) as { typed_config: { config: { vm_config: Record<string, unknown> } } };
    filter.typed_config.config.vm_config.environment_variables = { host_env_keys: ['AITF_E2E_KEY_A'], key_values: { AITF_E2E_KEY_B: 'sk-env-from-key-values' } };
    return filter as unknown as EnvoyConfig;
  };
  const gw = await startGateway({ provider: { apiTokens: [{ env: 'AITF_E2E_KEY_A' }, { env: 'AITF_E2E_KEY_B' }] } }, { pluginFilter });
  try {
    for (let i = 0; i < 30; i++) assert.equal((await chat(gw)).status, 200);
    const used = new Set(gw.mock.requests.map((r) => r.token));
    assert.deepEqual([...used].sort(), ['sk-env-from-envoy-process', 'sk-env-from-key-values']);
    assert.ok(!gw.envoy.log.includes('sk-env-from'), 'a key reached Envoy\'s log');
  } finally {
    await gw.stop();
    delete process.env.AITF_E2E_KEY_A;
  }
});
