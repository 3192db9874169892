// What Istio and Envoy Gateway make of the shipped upstream recipes, for a test Envoy: the gateway's
// listener, route and provider cluster as each control plane generates them (their names, their
// protocol options, their translation of the retry settings), then the recipe's patches applied by
// each one's rules: Istio's EnvoyFilter (MERGE replaces a map entry wholesale, pkg/proto/merge;
// INSERT_BEFORE; EXTENSION_CONFIG served over ECDS) and Envoy Gateway's EnvoyPatchPolicy (RFC 6902
// JSON patches on the resources, an empty path adding a whole resource). No control plane runs
// here: the recipes' own text is what is applied.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from '../../scripts/envoy_bin.js';

/** A parsed Envoy or Kubernetes document: its shape is what the functions change, so it stays untyped. */
type Doc = any;

export const ISTIO_CLUSTER = 'outbound|443||api.openai.com';
export const EG_CLUSTER = 'httproute/default/openai/rule/0';
export const EG_LISTENER = 'default/eg/http';
const PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const WASM_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';

export const loadManifests = (file: string): Doc[] =>
  YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, file), 'utf8')).map((d) => d.toJS());

/** The shipped upstream Envoy file without the plugin: the gateway as a control plane would build it before any recipe. */
function gatewayWithoutPlugin(cluster: string): { config: Doc; hcm: Doc; route: Doc; providerCluster: Doc } {
  const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'envoy/envoy.upstream.yaml'), 'utf8'));
  const hcm = config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.http_filters = hcm.http_filters.filter((f: Doc) => f.name !== 'envoy.filters.http.wasm');
  const vhost = hcm.route_config.virtual_hosts[0];
  delete vhost.include_request_attempt_count;
  // The status route (authentication off for it) stands for Istio's AuthorizationPolicy rule.
  for (const r of vhost.routes) r.route.cluster = cluster;
  const route = vhost.routes.find((r: Doc) => r.match.prefix === '/openai/v1/').route;
  delete route.retry_policy;
  const providerCluster = config.static_resources.clusters[0];
  providerCluster.name = cluster;
  providerCluster.load_assignment.cluster_name = cluster;
  // Both control planes leave the circuit breaker's retries open (Istio: every threshold at its maximum).
  providerCluster.circuit_breakers.thresholds[0].max_retries = 4294967295;
  return { config, hcm, route, providerCluster };
}

/** Istio's translation of a VirtualService `retries` block (pilot/pkg/networking/core/route/retry). */
function istioRetryPolicy(retries: Doc): Doc {
  const parts = String(retries.retryOn).split(',');
  const codes = parts.filter((p) => /^\d+$/.test(p)).map(Number);
  const on = parts.filter((p) => !/^\d+$/.test(p));
  if (codes.length > 0 && !on.includes('retriable-status-codes')) on.push('retriable-status-codes');
  return {
    retry_on: on.join(','), retriable_status_codes: codes, num_retries: retries.attempts, per_try_timeout: retries.perTryTimeout,
    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
    host_selection_retry_max_attempts: 5,
  };
}

/** Envoy Gateway's translation of a BackendTrafficPolicy `retry` block (internal/xds/translator/route.go buildRetryPolicy). */
function egRetryPolicy(retry: Doc): Doc {
  return {
    retry_on: retry.retryOn.triggers.join(','), retriable_status_codes: retry.retryOn.httpStatusCodes, num_retries: retry.numRetries,
    per_try_timeout: retry.perRetry.timeout,
    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
    host_selection_retry_max_attempts: 5,
  };
}

/** Istio's MERGE: fields merged recursively, lists appended, map entries (`maps`) replaced whole. */
function istioMerge(dst: Doc, src: Doc, maps = ['typed_extension_protocol_options']): void {
  for (const [k, v] of Object.entries(src)) {
    if (maps.includes(k)) {
      dst[k] = { ...(dst[k] ?? {}), ...(v as Doc) };
    } else if (Array.isArray(v)) {
      dst[k] = [...(dst[k] ?? []), ...v];
    } else if (v !== null && typeof v === 'object' && dst[k] !== null && typeof dst[k] === 'object') {
      istioMerge(dst[k], v, []);
    } else {
      dst[k] = v;
    }
  }
}

/** A produced gateway: its Envoy config, and its ECDS resources (Istio's), which the test serves from a file. */
export interface Produced { config: Doc; providerCluster: Doc; ecds: Doc[] }

/**
 * The Istio ingress gateway with deploy/istio/upstream.yaml applied. `serve(name)` says where the
 * config_discovery source of extension `name` points in place of istiod's ADS (a test serves each
 * ECDS resource from a file).
 */
export function istioUpstream(serve: (name: string) => Doc): Produced {
  const docs = loadManifests('deploy/istio/upstream.yaml');
  const filter = docs.find((d) => d.kind === 'EnvoyFilter');
  const vs = docs.find((d) => d.kind === 'VirtualService');
  const { config, hcm, route, providerCluster } = gatewayWithoutPlugin(ISTIO_CLUSTER);
  // What Istio sets on every gateway virtual host, and its cluster's protocol options for
  // wasmplugin.yaml's DestinationRule (TLS with an SNI: explicit HTTP/1.1, no auto_sni).
  hcm.route_config.virtual_hosts[0].include_request_attempt_count = true;
  config.node = { id: 'router~10.0.0.1~istio-ingressgateway-0.istio-system~istio-system.svc.cluster.local', cluster: 'istio-ingressgateway.istio-system' };
  providerCluster.typed_extension_protocol_options = { [PROTOCOL_OPTIONS]: { '@type': `type.googleapis.com/${PROTOCOL_OPTIONS}`, explicit_http_config: { http_protocol_options: {} } } };
  route.retry_policy = istioRetryPolicy(vs.spec.http[0].retries);
  route.timeout = vs.spec.http[0].timeout;
  const ecds: Doc[] = [];
  for (const p of filter.spec.configPatches) {
    const value = structuredClone(p.patch.value);
    if (p.applyTo === 'EXTENSION_CONFIG') {
      ecds.push({ '@type': 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig', ...value });
    } else if (p.applyTo === 'HTTP_FILTER') {
      const at = hcm.http_filters.findIndex((f: Doc) => f.name === p.match.listener.filterChain.filter.subFilter.name);
      hcm.http_filters.splice(at, 0, value);
    } else if (p.applyTo === 'CLUSTER') {
      const match = p.match.cluster;
      if (`outbound|${match.portNumber}||${match.service}` !== providerCluster.name) throw new Error('the CLUSTER patch matches no cluster');
      istioMerge(providerCluster, value);
    }
  }
  replaceAdsSources(config, serve);
  return { config, providerCluster, ecds };
}

// istiod's ADS is not here: each config_discovery source becomes the test's.
function replaceAdsSources(node: Doc, serve: (name: string) => Doc): void {
  if (node === null || typeof node !== 'object') return;
  if (node.config_discovery?.config_source?.ads !== undefined) node.config_discovery.config_source = serve(node.name);
  for (const v of Object.values(node)) replaceAdsSources(v, serve);
}

/** RFC 6902 `add` at a JSON pointer; an empty path is not handled here (it adds a resource). */
function jsonPatchAdd(target: Doc, pointer: string, value: Doc): void {
  const keys = pointer.split('/').slice(1).map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (node[k] === undefined) throw new Error(`JSON patch path ${pointer}: no ${k}`);
    node = node[k];
  }
  const last = keys[keys.length - 1];
  if (Array.isArray(node)) node.splice(last === '-' ? node.length : Number(last), 0, value);
  else node[last] = value;
}

/** The Envoy Gateway proxy with deploy/envoy-gateway/upstream.yaml applied. */
export function envoyGatewayUpstream(): Produced {
  const docs = loadManifests('deploy/envoy-gateway/upstream.yaml');
  const policy = docs.find((d) => d.kind === 'EnvoyPatchPolicy');
  const traffic = docs.find((d) => d.kind === 'BackendTrafficPolicy');
  const { config, hcm, route, providerCluster } = gatewayWithoutPlugin(EG_CLUSTER);
  // Envoy Gateway's shapes: an HTTP listener's chain is its default_filter_chain, the route
  // configuration and listener are named namespace/gateway/listener, and a TLS backend's cluster
  // gets HttpProtocolOptions with auto_config, ALPN offered by its TLS context.
  const listener = config.static_resources.listeners[0];
  listener.name = EG_LISTENER;
  listener.default_filter_chain = listener.filter_chains[0];
  delete listener.filter_chains;
  hcm.route_config.name = EG_LISTENER;
  providerCluster.typed_extension_protocol_options = { [PROTOCOL_OPTIONS]: { '@type': `type.googleapis.com/${PROTOCOL_OPTIONS}`, auto_config: { http_protocol_options: {}, http2_protocol_options: {} } } };
  providerCluster.transport_socket.typed_config.common_tls_context.alpn_protocols = ['h2', 'http/1.1'];
  route.retry_policy = egRetryPolicy(traffic.spec.retry);
  const byName: Record<string, Doc> = { [`Cluster/${EG_CLUSTER}`]: providerCluster, [`Listener/${EG_LISTENER}`]: listener, [`RouteConfiguration/${EG_LISTENER}`]: hcm.route_config };
  for (const patch of policy.spec.jsonPatches) {
    const kind = String(patch.type).split('.').at(-1);
    const { op, path: pointer, value } = patch.operation;
    if (op !== 'add') throw new Error(`unexpected JSON patch op ${op}`);
    if (pointer === '') {
      if (kind !== 'Cluster') throw new Error(`a new ${kind} is not expected`);
      config.static_resources.clusters.push(structuredClone(value));
      continue;
    }
    const target = byName[`${kind}/${patch.name}`];
    if (!target) throw new Error(`the patch names ${kind} ${patch.name}, which Envoy Gateway does not generate here`);
    jsonPatchAdd(target, pointer, structuredClone(value));
  }
  return { config, providerCluster, ecds: [] };
}

/** Every Wasm filter configuration in `node` (inline, or in ECDS resources). */
export function wasmConfigsIn(node: Doc, out: Doc[] = []): Doc[] {
  if (node === null || typeof node !== 'object') return out;
  if (node['@type'] === WASM_TYPE && node.config) out.push(node.config);
  for (const v of Object.values(node)) wasmConfigsIn(v, out);
  return out;
}
