// Every shipped manifest parses, and the plugin configuration it carries is accepted by the real
// module with no unknown-field warning (so it names only fields the plugin reads).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { POOL_STATS_TAG, TOKEN_STATS_TAG, type PluginConfig } from '../../envoy/config.js';
import { Host } from '../host/emulator.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** A parsed manifest: its shape is what these tests check, so it stays untyped. */
type Doc = any;

// Merge keys (`<<: *anchor`) as Docker Compose reads them.
const load = (f: string): Doc => YAML.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'), { merge: true });

const HIGRESS_WASM = path.join(ROOT, 'build/plugin.higress.wasm');

/** `redisClusters`: the configuration needs the Higress build, with these Redis clusters known to the gateway. */
function acceptedWithoutWarnings(config: PluginConfig, redisClusters: string[] = []): void {
  const host = redisClusters.length > 0 ? new Host({ wasmPath: HIGRESS_WASM }) : new Host();
  for (const c of redisClusters) host.redis.services.set(c, { port: null });
  const [ok] = host.createVm().configure(config);
  assert.equal(ok, true, host.logs.map((l) => l.msg).join('\n'));
  assert.deepEqual(host.logs.filter((l) => l.level >= 3).map((l) => l.msg), []);
}

function envoyPluginConfigs(doc: Doc): PluginConfig[] {
  const out: PluginConfig[] = [];
  JSON.stringify(doc, (k, v) => {
    if (v && v['@type'] === 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm') out.push(JSON.parse(v.config.configuration.value));
    return v;
  });
  return out;
}

/**
 * The configuration Higress's controller hands a WasmPlugin's module: its defaultConfig (unless
 * defaultConfigDisable) and its matchRules as `_rules_`, an Ingress named `ns/name`.
 */
function higressConfig(plugin: Doc): PluginConfig {
  const spec = plugin.spec;
  const out: Record<string, unknown> = spec.defaultConfigDisable ? {} : { ...spec.defaultConfig };
  if (spec.matchRules) {
    out._rules_ = spec.matchRules.map((r: Doc) => ({
      ...(r.ingress ? { _match_route_: r.ingress.map((i: string) => `${plugin.metadata.namespace}/${i}`) } : {}),
      ...(r.domain ? { _match_domain_: r.domain } : {}),
      ...(r.service ? { _match_service_: r.service } : {}),
      ...r.config,
    }));
  }
  return out as unknown as PluginConfig;
}

const loadAll = (f: string): Doc[] => YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, f), 'utf8')).map((d) => d.toJS()).filter(Boolean);
const byKind = (docs: Doc[], kind: string): Doc[] => docs.filter((d) => d.kind === kind);

test('Higress alone: McpBridge DNS entry, Ingress with TLS and host and path rewrite, and a WasmPlugin whose config is accepted', () => {
  const docs = loadAll('deploy/higress/standalone.yaml');
  const [bridge] = byKind(docs, 'McpBridge');
  assert.deepEqual(bridge.spec.registries[0], { name: 'openai', type: 'dns', domain: 'api.openai.com', port: 443 });
  const [ingress] = byKind(docs, 'Ingress');
  const a = ingress.metadata.annotations;
  assert.equal(a['higress.io/destination'], 'openai.dns');
  assert.equal(a['higress.io/backend-protocol'], 'HTTPS');
  assert.equal(a['higress.io/proxy-ssl-name'], 'api.openai.com');
  assert.equal(a['higress.io/upstream-vhost'], 'api.openai.com');
  const plugin = byKind(docs, 'WasmPlugin').find((d) => d.metadata.name === 'ai-token-failover');
  assert.match(plugin.spec.url, /^oci:\/\//);
  // Only the provider's Ingress is the plugin's.
  assert.equal(plugin.spec.defaultConfigDisable, true);
  assert.deepEqual(plugin.spec.matchRules.map((r: Doc) => r.ingress), [[ingress.metadata.name]]);
  acceptedWithoutWarnings(higressConfig(plugin));
  // Clients authenticate before the plugin runs.
  const auth = byKind(docs, 'WasmPlugin').find((d) => d.metadata.name === 'key-auth');
  assert.equal(auth.spec.phase, 'AUTHN');
  assert.equal(auth.spec.defaultConfig.global_auth, true);
  assert.ok(auth.spec.defaultConfig.consumers.length > 0);
});

test('Higress beside ai-proxy: this plugin runs after ai-proxy on the request (lower priority, same phase), ai-proxy keeps no failover or retry', () => {
  const docs = byKind(loadAll('deploy/higress/beside-ai-proxy.yaml'), 'WasmPlugin');
  const aiProxy = docs.find((d) => d.metadata.name === 'ai-proxy');
  const mine = docs.find((d) => d.metadata.name === 'ai-token-failover');
  assert.equal(mine.spec.phase, aiProxy.spec.phase);
  assert.ok(mine.spec.priority < aiProxy.spec.priority);
  const aiConfig = aiProxy.spec.matchRules[0].config;
  assert.equal(aiConfig.provider.failover.enabled, false);
  assert.equal(aiConfig.provider.retryOnFailure.enabled, false);
  // Scoped as ai-proxy is: the same Ingresses.
  assert.deepEqual(mine.spec.matchRules.map((r: Doc) => r.ingress), aiProxy.spec.matchRules.map((r: Doc) => r.ingress));
  acceptedWithoutWarnings(higressConfig(mine));
});

test('Istio EnvoyFilter: the plugin over ECDS with allow_on_headers_stop_iteration, just before the router, with a configuration the module accepts', () => {
  const [filter] = byKind(loadAll('deploy/istio/envoyfilter.yaml'), 'EnvoyFilter');
  const [extension, inChain] = filter.spec.configPatches;
  assert.equal(extension.applyTo, 'EXTENSION_CONFIG');
  assert.equal(extension.patch.operation, 'ADD');
  const wasm = extension.patch.value.typed_config;
  assert.equal(wasm['@type'], 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm');
  assert.equal(wasm.config.allow_on_headers_stop_iteration, true);
  assert.equal(inChain.applyTo, 'HTTP_FILTER');
  assert.equal(inChain.patch.operation, 'INSERT_BEFORE');
  assert.equal(inChain.match.listener.filterChain.filter.subFilter.name, 'envoy.filters.http.router');
  assert.equal(inChain.patch.value.name, extension.patch.value.name);
  assert.deepEqual(inChain.patch.value.config_discovery.type_urls, [wasm['@type']]);
  const [config] = envoyPluginConfigs(filter);
  assert.equal(config.provider?.failover && (config.provider.failover as { healthCheck: { cluster: string } }).healthCheck.cluster, 'outbound|443||api.openai.com');
  acceptedWithoutWarnings(config);
});

test('Istio: ServiceEntry and DestinationRule originate TLS to the provider, the route rewrites host and path, the plugin runs after authn/authz and probes the outbound cluster', () => {
  const docs = loadAll('deploy/istio/wasmplugin.yaml');
  const [entry] = byKind(docs, 'ServiceEntry');
  const [rule] = byKind(docs, 'DestinationRule');
  assert.deepEqual(entry.spec.hosts, ['api.openai.com']);
  assert.equal(rule.spec.trafficPolicy.portLevelSettings[0].tls.mode, 'SIMPLE');
  assert.equal(rule.spec.trafficPolicy.portLevelSettings[0].tls.sni, 'api.openai.com');
  const [vs] = byKind(docs, 'VirtualService');
  assert.deepEqual(vs.spec.http[0].rewrite, { uri: '/v1/', authority: 'api.openai.com' });
  const [authn] = byKind(docs, 'RequestAuthentication');
  const [authz] = byKind(docs, 'AuthorizationPolicy');
  assert.ok(authn.spec.jwtRules.length > 0);
  assert.equal(authz.spec.action, 'ALLOW');
  assert.deepEqual(authz.spec.rules[0].from[0].source.requestPrincipals, ['*']);
  const [plugin] = byKind(docs, 'WasmPlugin');
  assert.equal(plugin.apiVersion, 'extensions.istio.io/v1alpha1');
  assert.equal(plugin.spec.phase, 'UNSPECIFIED_PHASE');
  assert.equal(plugin.spec.pluginConfig.provider.failover.healthCheck.cluster, 'outbound|443||api.openai.com');
  acceptedWithoutWarnings(plugin.spec.pluginConfig);
  const stats = JSON.parse(load('deploy/istio/metrics-bootstrap.yaml').data['custom_bootstrap.json']);
  assert.deepEqual(stats.stats_config.stats_tags, [TOKEN_STATS_TAG, POOL_STATS_TAG]);
});

test('Higress plugin spec: the priority and version the manifests use (its schema: tests/integration/config_reference.test.ts)', () => {
  const spec = load('deploy/higress/spec.yaml');
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  assert.equal(spec.info.version, version);
  for (const file of ['deploy/higress/standalone.yaml', 'deploy/higress/beside-ai-proxy.yaml', 'deploy/higress/replicas.yaml']) {
    const ours = loadAll(file).filter((d: Doc) => d.kind === 'WasmPlugin' && String(d.spec.url).includes('ai-token-failover'));
    assert.equal(ours.length, 1, file);
    assert.equal(ours[0].spec.priority, spec.spec.priority, `${file}: priority`);
    assert.ok(String(ours[0].spec.url).includes(`:${version}`), `${file}: ${ours[0].spec.url}`);
  }
});

test('Envoy configs and docker-compose.yml parse; the plugin configurations they carry are accepted', () => {
  for (const f of ['envoy/envoy.yaml', 'envoy/envoy.compose.yaml', 'envoy/envoy.provider.yaml']) {
    const configs = envoyPluginConfigs(load(f));
    assert.equal(configs.length, 1, f);
    acceptedWithoutWarnings(configs[0]);
  }
  // The upstream placement: a status-only instance downstream and the upstream filter, the same
  // provider block and vm_id (so they share the VM and its pool).
  const upstream = load('envoy/envoy.upstream.yaml');
  const [statusOnly, inCluster] = envoyPluginConfigs(upstream);
  assert.equal(statusOnly.statusOnly, true);
  assert.equal(inCluster.upstreamFilter, true);
  assert.deepEqual(statusOnly.provider, inCluster.provider);
  acceptedWithoutWarnings(statusOnly);
  acceptedWithoutWarnings(inCluster);
  const vmIds = new Set<string>();
  JSON.stringify(upstream, (k, v) => { if (k === 'vm_config') vmIds.add(v.vm_id); return v; });
  assert.deepEqual([...vmIds], ['ai-token-failover']);
  const compose = load('docker-compose.yml');
  assert.match(compose.services.envoy.image, /^envoyproxy\/envoy:v\d+\.\d+\.\d+$/);
  assert.ok(compose.services.envoy.volumes.some((v: string) => v.startsWith('./build/plugin.wasm:')));
});

test('the OCI Dockerfile puts plugin.wasm (the standard build unless WASM names the Higress one) at the image root', () => {
  const text = fs.readFileSync(path.join(ROOT, 'deploy/higress/Dockerfile'), 'utf8');
  assert.match(text, /^FROM scratch$/m);
  assert.match(text, /^ARG WASM=build\/plugin\.wasm$/m);
  assert.match(text, /^COPY \$\{WASM\} \.\/plugin\.wasm$/m);
  assert.match(text, /--build-arg WASM=build\/plugin\.higress\.wasm/);
});

// The cluster Higress builds for a registry service: outbound|<port>||<name>.<type>.
const registryCluster = (r: Doc): string => `outbound|${r.port}||${r.name}.${r.type}`;
const redisCluster = (redis: Doc): string => `outbound|${redis.servicePort ?? 6379}||${redis.serviceName}`;

test('Higress replicas: the Higress build\'s configuration with redis is accepted, its service is a registry entry', () => {
  const docs = loadAll('deploy/higress/replicas.yaml');
  const [bridge] = byKind(docs, 'McpBridge');
  const plugin = byKind(docs, 'WasmPlugin').find((d) => d.metadata.name === 'ai-token-failover');
  assert.match(plugin.spec.url, /^oci:\/\/.*-higress$/);
  const cluster = redisCluster(plugin.spec.matchRules[0].config.redis);
  assert.ok(bridge.spec.registries.map(registryCluster).includes(cluster), cluster);
  acceptedWithoutWarnings(higressConfig(plugin), [cluster]);
});

test('Higress compose file: two all-in-one gateways, Redis, the mock provider and the Higress build served to them', () => {
  const dir = 'deploy/higress/compose';
  const compose = load(`${dir}/docker-compose.yml`);
  const services = compose.services;
  assert.deepEqual(Object.keys(services).sort(), ['gateway-a', 'gateway-b', 'mock', 'plugins', 'redis']);
  for (const g of ['gateway-a', 'gateway-b']) assert.match(services[g].image, /^higress-registry\.cn-hangzhou\.cr\.aliyuncs\.com\/higress\/all-in-one:/);
  assert.notDeepEqual(services['gateway-a'].ports, services['gateway-b'].ports);
  // Every mounted file exists, where Higress's file-based configuration reads it.
  const mounts = services['gateway-a'].volumes.map((v: string) => v.split(':'));
  for (const [from, to] of mounts) {
    assert.ok(fs.existsSync(path.join(ROOT, dir, from)), from);
    assert.match(to, /^\/data\/(wasmplugins|mcpbridges|ingresses)\/[a-z-]+\.yaml$/);
  }
  const doc = (name: string) => load(`${dir}/${mounts.find(([, to]: string[]) => to.endsWith(name))[0]}`);
  const bridge = doc('/mcpbridges/default.yaml');
  const registries = bridge.spec.registries;
  // The registry's DNS names are the compose services, at the ports they listen on.
  assert.deepEqual(registries.find((r: Doc) => r.name === 'mock'), { domain: 'mock', name: 'mock', port: Number(services.mock.command.at(-1)), type: 'dns' });
  assert.equal(registries.find((r: Doc) => r.name === 'redis').domain, 'redis');
  assert.equal(doc('/ingresses/mock.yaml').metadata.annotations['higress.io/destination'], 'mock.dns');
  const plugin = doc('/wasmplugins/ai-token-failover.yaml');
  const file = new URL(plugin.spec.url).pathname.slice(1);
  assert.match(services.plugins.command.join(' '), /http\.server 8000/);
  assert.equal(new URL(plugin.spec.url).host, 'plugins:8000');
  assert.ok(services.plugins.volumes[0].startsWith('../../../build:'));
  assert.equal(file, 'plugin.higress.wasm');
  const cfg = plugin.spec.defaultConfig;
  assert.ok(registries.map(registryCluster).includes(cfg.provider.failover.healthCheck.cluster));
  assert.ok(registries.map(registryCluster).includes(redisCluster(cfg.redis)));
  acceptedWithoutWarnings(cfg, [redisCluster(cfg.redis)]);
  assert.equal(doc('/wasmplugins/key-auth.yaml').spec.phase, 'AUTHN');
});

test('upstream recipes (Istio, Envoy Gateway): an upstreamFilter and a statusOnly instance with one provider block and one vm_id, each accepted by the module', () => {
  for (const file of ['deploy/istio/upstream.yaml', 'deploy/envoy-gateway/upstream.yaml']) {
    const configs = loadAll(file).flatMap(envoyPluginConfigs);
    assert.equal(configs.length, 2, file);
    const upstream = configs.find((c) => c.upstreamFilter === true);
    const status = configs.find((c) => c.statusOnly === true);
    assert.ok(upstream && status, file);
    assert.deepEqual(upstream.provider, status.provider, `${file}: the two instances must share one provider block`);
    for (const c of configs) acceptedWithoutWarnings(c);
    const vmIds = new Set<string>();
    JSON.stringify(loadAll(file), (k, v) => { if (k === 'vm_id') vmIds.add(v); return v; });
    assert.deepEqual([...vmIds], ['ai-token-failover'], file);
  }
});
