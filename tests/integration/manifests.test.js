// Every shipped manifest parses, and the plugin configuration it carries is accepted by the real
// module with no unknown-field warning (so it names only fields the plugin reads).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { Host } from '../host/emulator.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const load = (f) => YAML.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'));

function acceptedWithoutWarnings(config) {
  const host = new Host();
  const [ok] = host.createVm().configure(config);
  assert.equal(ok, true, host.logs.map((l) => l.msg).join('\n'));
  assert.deepEqual(host.logs.filter((l) => l.level >= 3).map((l) => l.msg), []);
}

function envoyPluginConfigs(doc) {
  const out = [];
  JSON.stringify(doc, (k, v) => {
    if (v && v['@type'] === 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm') out.push(JSON.parse(v.config.configuration.value));
    return v;
  });
  return out;
}

test('Higress WasmPlugin: parses, and its defaultConfig is accepted', () => {
  const doc = load('deploy/higress/wasmplugin.yaml');
  assert.equal(doc.kind, 'WasmPlugin');
  assert.equal(doc.apiVersion, 'extensions.higress.io/v1alpha1');
  assert.match(doc.spec.url, /^oci:\/\//);
  acceptedWithoutWarnings(doc.spec.defaultConfig);
});

test('Istio WasmPlugin: parses, and its pluginConfig is accepted', () => {
  const doc = load('deploy/istio/wasmplugin.yaml');
  assert.equal(doc.kind, 'WasmPlugin');
  assert.equal(doc.apiVersion, 'extensions.istio.io/v1alpha1');
  acceptedWithoutWarnings(doc.spec.pluginConfig);
});

test('Higress plugin spec: its schema describes exactly the fields the plugin reads', () => {
  const schema = load('deploy/higress/spec.yaml').spec.configSchema.openAPIV3Schema;
  const keys = (o) => Object.keys(o.properties).sort();
  assert.deepEqual(keys(schema), ['provider', 'statusPath', 'statusToken']);
  const provider = schema.properties.provider;
  assert.deepEqual(keys(provider), ['apiTokens', 'failover', 'id', 'retryOnFailure', 'type']);
  assert.deepEqual(keys(provider.properties.failover), ['cooldownDuration', 'enabled', 'failoverOnStatus', 'failureConditions', 'failureThreshold',
    'healthCheck', 'healthCheckInterval', 'healthCheckModel', 'healthCheckTimeout', 'successThreshold']);
  assert.deepEqual(keys(provider.properties.failover.properties.healthCheck), ['authority', 'body', 'cluster', 'path', 'successConditions']);
  assert.deepEqual(keys(provider.properties.retryOnFailure), ['enabled', 'maxRetries', 'retryOnStatus', 'retryTimeout']);
  assert.deepEqual(keys(schema.definitions.rule), ['body', 'headers', 'status']);
  assert.deepEqual(keys(schema.definitions.key), ['models', 'rpm', 'token', 'tpm', 'weight']);
  // Every field the schema names is one the plugin accepts without a warning.
  acceptedWithoutWarnings({
    statusPath: '/s', statusToken: 't',
    provider: {
      type: 'openai', id: 'x', apiTokens: ['a', { token: 'b', weight: 2, models: ['m*'], rpm: 10, tpm: 1000 }],
      failover: { enabled: true, failureThreshold: 3, successThreshold: 1, healthCheckInterval: 5000, healthCheckTimeout: 5000, healthCheckModel: 'm',
        cooldownDuration: 0, failoverOnStatus: ['5..'], failureConditions: [{ status: ['200'], headers: ['x'], body: 'b' }],
        healthCheck: { cluster: 'c', authority: 'a', path: '/p', body: '{}', successConditions: [{ status: ['200'] }] } },
      retryOnFailure: { enabled: true, maxRetries: 1, retryTimeout: 1000, retryOnStatus: ['429'] },
    },
  });
});

test('Envoy configs and docker-compose.yml parse; the plugin configurations they carry are accepted', () => {
  for (const f of ['envoy/envoy.yaml', 'envoy/envoy.compose.yaml', 'envoy/envoy.provider.yaml']) {
    const configs = envoyPluginConfigs(load(f));
    assert.equal(configs.length, 1, f);
    acceptedWithoutWarnings(configs[0]);
  }
  const compose = load('docker-compose.yml');
  assert.match(compose.services.envoy.image, /^envoyproxy\/envoy:v\d+\.\d+\.\d+$/);
  assert.ok(compose.services.envoy.volumes.some((v) => v.startsWith('./build/plugin.wasm:')));
});

test('the OCI Dockerfile puts plugin.wasm at the image root', () => {
  const text = fs.readFileSync(path.join(ROOT, 'deploy/higress/Dockerfile'), 'utf8');
  assert.match(text, /^FROM scratch$/m);
  assert.match(text, /^COPY build\/plugin\.wasm \.\/plugin\.wasm$/m);
});
